#!/usr/bin/env bash
# The closed loop, offline, on the default model (README: "Closing the loop: votes -> DPO -> re-evaluation").
#
# 1. Two variants on the train rows of datasets/support_en.jsonl, both on hf:models/support-tiny:
#    A = the few-shot prompt, greedy; B = the zero-shot prompt sampled at temperature 1.2.
# 2. A blind pairwise session over A and B. The votes here are scripted (a voter who prefers the answer
#    closer to the reference, by ROUGE-L, and calls a tie within 0.05); in use, people vote in the app.
# 3. `workbench annotate export --format dpo`: one pair per item with a majority.
# 4. `workbench finetune --method dpo --lora` on models/support-tiny with those pairs; the card records the
#    session and its vote counts.
# 5. The few-shot prompt on the held-out `test` rows with the base and with the adapter, side by side
#    (`workbench compare`) with paired significance (`workbench annotate significance`).
#
# About 3-6 minutes on 2 CPU cores. Everything goes to $OUT; the shipped model is left alone.
set -euo pipefail
cd "$(dirname "$0")/.."
WB=${WB:-.venv/bin/workbench}
PY=${PY:-.venv/bin/python}
OUT=${OUT:-runs/closed-loop}
LR=${LR:-1e-3}
EPOCHS=${EPOCHS:-3}
BASE=models/support-tiny
rm -rf "$OUT" && mkdir -p "$OUT"
export WORKBENCH_DB="$OUT/workbench.duckdb"
grep -v '"split": "test"' datasets/support_en.jsonl > "$OUT/train_rows.jsonl"
grep '"split": "test"' datasets/support_en.jsonl > "$OUT/held_out.jsonl"
run_id() { $PY -c 'import json, sys; print(json.load(sys.stdin)["runs"][0]["run_id"])'; }

echo "== 1. two variants on the train rows"
A=$($WB eval prompts/support_few_shot.yaml --data "$OUT/train_rows.jsonl" --model "hf:$BASE" --json | run_id)
B=$($WB eval prompts/support_zero_shot.yaml --data "$OUT/train_rows.jsonl" --model "hf:$BASE" \
    --param temperature=1.2 --param seed=7 --json | run_id)

echo "== 2. blind pairwise session, scripted votes"
SID=$($WB annotate create --runs "$A" "$B" --pairwise --annotators script --seed 0 --name closed-loop)
$PY - "$SID" <<'EOF'
import sys
from workbench import metrics, store
from workbench.rating import annotation

sid, ms = sys.argv[1], metrics.parse_metrics("rougeL")
votes = {}
with store.connect() as con:
    while (item := annotation.next_item(con, sid, "script")) is not None:
        a, b = (metrics.score(t, [item.reference], ms)["rougeL"] for t in (item.text_a, item.text_b))
        vote = "A" if a > b + 0.05 else "B" if b > a + 0.05 else "tie"
        annotation.record_rating(con, sid, item.item_idx, "script", vote)
        votes[vote] = votes.get(vote, 0) + 1
print("votes:", votes)
EOF

echo "== 3. DPO pairs from the votes"
$WB annotate export "$SID" --format dpo -o "$OUT/pairs.jsonl"
wc -l < "$OUT/pairs.jsonl"

echo "== 4. DPO with a LoRA adapter on the default model"
$WB finetune --method dpo --data "$OUT/pairs.jsonl" --base "$BASE" --lora --session "$SID" \
    --lr "$LR" --epochs "$EPOCHS" --batch-size 8 --eval-split 0.1 --out "$OUT/support-dpo"

echo "== 5. base vs adapter on the held-out rows (few-shot prompt, greedy)"
R1=$($WB eval prompts/support_few_shot.yaml --data "$OUT/held_out.jsonl" --model "hf:$BASE" --json | run_id)
R2=$($WB eval prompts/support_few_shot.yaml --data "$OUT/held_out.jsonl" --model "hf:$OUT/support-dpo" --json | run_id)
$WB compare "$R1" "$R2"
echo
$WB significance "$R1" "$R2"
