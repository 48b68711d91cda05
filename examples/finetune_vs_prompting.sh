#!/usr/bin/env bash
# Fine-tuning vs prompting, offline, on the bundled support data (README: "Fine-tuning vs prompting").
#
# 1. A base model: a tiny model trained from scratch on the shop's knowledge base only
#    (datasets/faq_en.jsonl, each article as the answer to "Tell me about <title>."). It knows the facts
#    but has never seen a customer question or the support answers.
# 2. Prompting: the few-shot prompt (prompts/support_few_shot.yaml) on that base.
# 3. Fine-tuning: the same base fine-tuned on the train split of datasets/support_en.jsonl rendered
#    through the same few-shot prompt, then the same prompt on it.
# Both are scored on the held-out split (rows with "split": "test", paraphrases neither model saw) and
# put side by side with `workbench compare` (BLEU, chrF, ROUGE, exact match...).
#
# About 3-5 minutes on 2 CPU cores; a GPU is used when there is one. Everything goes to $OUT.
set -euo pipefail
cd "$(dirname "$0")/.."
WB=${WB:-.venv/bin/workbench}
PY=${PY:-.venv/bin/python}
OUT=${OUT:-runs/finetune-vs-prompting}
mkdir -p "$OUT"
export WORKBENCH_DB="$OUT/workbench.duckdb"
grep '"split": "test"' datasets/support_en.jsonl > "$OUT/held_out.jsonl"

# BASE=/path/to/a/local/instruct/checkpoint uses that instead of step 1 (then also set LR, e.g. LR=2e-5, and EPOCHS).
BASE=${BASE:-}
LR=${LR:-3e-3}
EPOCHS=${EPOCHS:-12}
if [ -z "$BASE" ]; then
    echo "== 1. base: tiny model trained from scratch on the knowledge base"
    $WB finetune --data datasets/faq_en.jsonl --prompt examples/faq_as_chat.yaml --reference text \
        --base tiny --epochs 40 --batch-size 6 --eval-split 0 --out "$OUT/faq-base"
    BASE="$OUT/faq-base"
fi

echo "== 2. fine-tune that base on the support train split (few-shot prompt)"
$WB finetune --data datasets/support_en.jsonl --prompt prompts/support_few_shot.yaml \
    --base "$BASE" --optimizer adamw --lr "$LR" --epochs "$EPOCHS" --batch-size 16 --eval-split test \
    --out "$OUT/support-finetuned"

run_id() { $PY -c 'import json, sys; print(json.load(sys.stdin)["runs"][0]["run_id"])'; }
echo "== 3. the few-shot prompt on both, over the held-out split"
A=$($WB eval prompts/support_few_shot.yaml --data "$OUT/held_out.jsonl" --model "hf:$BASE" --json | run_id)
B=$($WB eval prompts/support_few_shot.yaml --data "$OUT/held_out.jsonl" --model "hf:$OUT/support-finetuned" --json | run_id)
$WB runs
echo
echo "== A = prompting the base, B = fine-tuned"
$WB compare "$A" "$B"
