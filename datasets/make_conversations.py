"""Write support_conversations_en.jsonl and support_conversations_zh.jsonl (run: python datasets/make_conversations.py).

Eight hand-written support scenarios per language, each filled six times with a customer, an order number
and an item (a fixed seed: the output is the same on every run). First answers are the canonical answers
of support_*.jsonl where an intent fits; later turns depend on earlier ones: "it", "that order", a changed
mind. Every other variant stops after two exchanges, so conversations have 4 or 6 turns.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

HERE = Path(__file__).resolve().parent
VARIANTS = 6

EN_ITEMS = ["desk lamp", "kettle", "headphones", "blender", "throw blanket", "smart speaker", "coffee grinder"]
ZH_ITEMS = ["台灯", "电水壶", "耳机", "搅拌机", "毛毯", "智能音箱", "咖啡磨豆机"]
EN_NAMES = ["Ann", "Ben", "Chloe", "David", "Emma", "Farid", "Grace", "Hiro", "Ivy", "Jonas"]
ZH_NAMES = ["王芳", "李伟", "张敏", "刘洋", "陈静", "杨磊", "赵丽", "黄强", "周婷", "吴斌"]
CODES = ["SPRING10", "WELCOME5", "HOME15", "SAVE20"]

EN = [
    ("track_then_address", [
        ("Where is my order #{n}? It's the {item}.", "@track_order"),
        ("Can I still send it to my office instead?",
         "If order #{n} hasn't shipped yet, yes: open Orders, select order #{n} and choose Edit address."),
        ("It says it has shipped already.",
         "Then the address of order #{n} can no longer be changed in your account; use its tracking link to ask "
         "the carrier to redirect the {item}."),
    ]),
    ("cancel_then_keep", [
        ("I want to cancel order #{n}.", "@cancel_order"),
        ("Actually, never mind, I'll keep it.", "No problem: order #{n} stays as it is and ships as planned."),
        ("And if I don't like the {item} after all?",
         "You can return the {item} within 30 days of delivery: go to Orders, choose it, select Return and print "
         "the free prepaid shipping label."),
    ]),
    ("damaged_then_refund", [
        ("My {item} arrived broken.", "@damaged_item"),
        ("I'd rather have my money back than a new one.",
         "Of course: choose a refund when you report the damaged {item}, and we'll refund it in full instead of "
         "sending a replacement."),
        ("How long will that take?",
         "We issue the refund within 2 business days; it then takes 5 to 7 business days to appear on your "
         "original payment method."),
    ]),
    ("shipping_then_express", [
        ("How much is shipping on a ${price} order?", "{shipping}"),
        ("And how fast is express?",
         "Express delivery takes 1 to 2 business days and costs $14.99; orders placed before 2 pm ET on a "
         "business day ship the same day."),
        ("OK, I'll go with the standard one then.",
         "Fine: standard delivery takes 3 to 5 business days{standard_cost}."),
    ]),
    ("warranty_then_age", [
        ("My {item} stopped working after {months} months.",
         "Sorry to hear that. Your {item} is covered by the 1-year Northwind warranty against manufacturing "
         "defects: start a claim under Orders > Warranty claim and we'll repair or replace it."),
        ("What should I write in the claim?",
         "A short description of the fault of your {item} is enough, for example when it stopped working and what "
         "happens when you switch it on."),
        ("And if it had been older than a year?",
         "Then the 1-year warranty would have ended; contact us by live chat or at 1-800-555-0199 and we'll see "
         "what we can do."),
    ]),
    ("code_then_second_code", [
        ("My code {code} isn't working.", "@discount_code"),
        ("Can I use it together with another code I have?",
         "No, only one code works per order, so choose either {code} or the other one."),
        ("I already paid, can I still add it?",
         "Sorry, codes can't be added after purchase, so {code} can only be used on a new order."),
    ]),
    ("password_then_link", [
        ("I forgot my password.", "@reset_password"),
        ("The email hasn't arrived yet.",
         "Check your spam folder, and make sure you entered the email address of your account; you can request "
         "the link again from the sign-in screen."),
        ("Got it now. How long is that link good for?",
         "The reset link is valid for 24 hours; if it expires, simply request a new one."),
    ]),
    ("payment_then_gift_card", [
        ("My card payment for order #{n} failed.", "@payment_failed"),
        ("Can I use a gift card for that order instead?",
         "Yes: enter the 16-digit gift card code under Payment at checkout; anything it doesn't cover on order "
         "#{n} can be paid by card."),
        ("How do I see how much is left on it?",
         "Check the balance of your gift card in Account > Gift cards. Northwind gift cards never expire."),
    ]),
]

ZH = [
    ("track_then_address", [
        ("我的订单#{n}到哪了？买的是{item}。", "@track_order"),
        ("还能改成寄到我公司吗？", "如果订单#{n}还没发货，可以：进入“我的订单”，选择订单#{n}并点击“修改地址”。"),
        ("显示已经发货了。", "那订单#{n}的地址就无法在账户里修改了，请通过它的物流链接联系承运商改派{item}。"),
    ]),
    ("cancel_then_keep", [
        ("我想取消订单#{n}。", "@cancel_order"),
        ("算了，我还是要了。", "没问题，订单#{n}保持不变，会按计划发货。"),
        ("那如果收到后不喜欢这个{item}呢？", "{item}签收后30天内可以退货：进入“我的订单”，选择商品，点击“退货”，然后打印免费的预付退货标签。"),
    ]),
    ("damaged_then_refund", [
        ("我收到的{item}是坏的。", "@damaged_item"),
        ("我不要换新的，想退款。", "可以：报告{item}破损时选择退款，我们会全额退款，不再补发。"),
        ("大概要多久？", "我们会在2个工作日内发起退款，款项通常在5到7个工作日内退回原支付方式。"),
    ]),
    ("shipping_then_express", [
        ("{price}美元的订单运费多少？", "{shipping}"),
        ("加急要多快？", "加急配送需要1到2个工作日，费用14.99美元；工作日美东时间下午2点前下单当天发货。"),
        ("那我还是选标准配送吧。", "好的：标准配送需要3到5个工作日{standard_cost}。"),
    ]),
    ("warranty_then_age", [
        ("我的{item}用了{months}个月就坏了。", "很抱歉。您的{item}享有Northwind 1年质保，涵盖制造缺陷：请在“我的订单”>“保修申请”中提交，我们会维修或更换。"),
        ("申请里要写什么？", "简单描述{item}的故障即可，比如什么时候开始不工作、开机后有什么表现。"),
        ("如果超过一年了呢？", "那1年质保就已到期；请通过在线客服或拨打1-800-555-0199联系我们，我们会看看能怎么帮您。"),
    ]),
    ("code_then_second_code", [
        ("我的优惠码{code}用不了。", "@discount_code"),
        ("能和我另一个优惠码一起用吗？", "不行，每笔订单只能使用一个优惠码，请在{code}和另一个之间选一个。"),
        ("我已经付款了，还能补用吗？", "抱歉，下单后无法补用优惠码，{code}只能在新订单中使用。"),
    ]),
    ("password_then_link", [
        ("我忘记密码了。", "@reset_password"),
        ("邮件一直没收到。", "请检查垃圾邮件文件夹，并确认输入的是账户邮箱；也可以在登录页重新发送链接。"),
        ("收到了。这个链接多久有效？", "重置链接24小时内有效；过期后重新申请一个即可。"),
    ]),
    ("payment_then_gift_card", [
        ("订单#{n}刷卡支付失败了。", "@payment_failed"),
        ("这个订单能改用礼品卡吗？", "可以：结账时在“支付”中输入16位礼品卡卡号；订单#{n}剩余金额可以用银行卡支付。"),
        ("怎么查礼品卡余额？", "在“账户”>“礼品卡”中查看余额。Northwind礼品卡永不过期。"),
    ]),
]


def references(path: Path) -> dict[str, str]:
    out: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        out.setdefault(row["intent"], row["reference"])
    return out


def slots(lang: str, rng: random.Random) -> dict[str, str]:
    price = rng.choice([24, 38, 45, 62, 80, 129])
    free = price > 50
    if lang == "en":
        return {"n": str(rng.randint(10000, 99999)), "item": rng.choice(EN_ITEMS), "name": rng.choice(EN_NAMES),
                "code": rng.choice(CODES), "months": str(rng.randint(2, 11)), "price": str(price),
                "shipping": (f"Standard shipping is free on orders over $50, so your ${price} order ships free; "
                             "express costs $14.99." if free else
                             f"Your ${price} order is under $50, so standard shipping costs $5.99; express costs "
                             "$14.99."),
                "standard_cost": f", free for your ${price} order" if free else f" and costs $5.99 for your ${price} order"}
    return {"n": str(rng.randint(10000, 99999)), "item": rng.choice(ZH_ITEMS), "name": rng.choice(ZH_NAMES),
            "code": rng.choice(CODES), "months": str(rng.randint(2, 11)), "price": str(price),
            "shipping": (f"标准配送满50美元免运费，您{price}美元的订单免运费；加急配送为14.99美元。" if free else
                         f"您{price}美元的订单不满50美元，标准配送运费5.99美元；加急配送为14.99美元。"),
            "standard_cost": f"，您{price}美元的订单免运费" if free else f"，您{price}美元的订单运费5.99美元"}


def build(lang: str, scenarios: list, refs: dict[str, str]) -> list[dict]:
    rng = random.Random(f"conversations-{lang}")
    out = []
    for name, exchanges in scenarios:
        for v in range(VARIANTS):
            fill = slots(lang, rng)
            turns = []
            for user, answer in exchanges[: 3 if v % 2 == 0 else 2]:
                turns += [user.format(**fill), refs[answer[1:]] if answer.startswith("@") else answer.format(**fill)]
            out.append({"id": f"{lang}-conv-{len(out) + 1:03d}", "scenario": name, "customer": fill["name"],
                        "turns": turns})
    return out


def main() -> None:
    for lang, scenarios in (("en", EN), ("zh", ZH)):
        rows = build(lang, scenarios, references(HERE / f"support_{lang}.jsonl"))
        with open(HERE / f"support_conversations_{lang}.jsonl", "w", encoding="utf-8") as f:
            for row in rows:
                f.write(json.dumps(row, ensure_ascii=False) + "\n")
        print(f"support_conversations_{lang}.jsonl: {len(rows)} conversations")


if __name__ == "__main__":
    main()
