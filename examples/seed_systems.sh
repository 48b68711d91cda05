#!/usr/bin/env bash
# LLMs vs classic bots, on the bundled support data (README: "LLMs vs classic bots").
#
# The same held-out questions (rows of datasets/support_en.jsonl with "split": "test", paraphrases none
# of the systems was trained on) go through four systems:
#   1. a prompt on an OpenAI-compatible model: openai:gpt-4o-mini when OPENAI_API_KEY is set, else the
#      loopback protocol server tests/openai_server.py (a stand-in, not a language model: it answers the
#      train questions it was given with their reference and echoes anything else), or LLM=SPEC;
#   2. the local fine-tuned model hf:models/support-tiny;
#   3. the bundled Rasa assistant (bots/rasa, served by `make rasa-serve`, its own Python 3.10 env);
#   4. a ChatterBot bot trained on the train split (chatterbot:datasets/support_en.jsonl).
# Then `workbench show` (means with 95% CIs), `workbench compare` and `workbench significance` (paired
# bootstrap, Wilcoxon and sign tests) of each system against Rasa, the bot a team would be replacing,
# and a blind pairwise rating session over the four runs (rate it in `make app`, Annotate).
# Then the bundled conversations (datasets/support_conversations_en.jsonl, 48 conversations, 120 assistant
# turns) through the same four systems with their own history (prompts/support_conversation.yaml; each
# Rasa conversation is a sender of its own; ChatterBot is the same bot, answering each turn from the
# customer's message), shown per turn and per conversation, and a blind pairwise session by turn.
#
# The first time, `make rasa-serve` installs Rasa (2.7 GB, several minutes) and trains the assistant.
# Everything goes to $OUT.
set -euo pipefail
cd "$(dirname "$0")/.."
WB=${WB:-.venv/bin/workbench}
PY=${PY:-.venv/bin/python}
OUT=${OUT:-runs/seed-systems}
PROMPT=${PROMPT:-prompts/support_few_shot.yaml}
RASA_PORT=${RASA_PORT:-5005}
mkdir -p "$OUT"
export WORKBENCH_DB="$OUT/workbench.duckdb"
export WORKBENCH_CACHE_DIR="${WORKBENCH_CACHE_DIR:-$OUT/cache}"
grep '"split": "test"' datasets/support_en.jsonl > "$OUT/held_out.jsonl"
grep '"split": "train"' datasets/support_en.jsonl > "$OUT/train.jsonl"

SERVER_PID=
cleanup() { [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null || true; }
trap cleanup EXIT
if [ -n "${LLM:-}" ]; then :
elif [ -n "${OPENAI_API_KEY:-}" ]; then LLM=openai:gpt-4o-mini
else
    PORT=$($PY -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    $PY tests/openai_server.py --port "$PORT" --answers "$OUT/train.jsonl" > "$OUT/llm-server.log" 2>&1 &
    SERVER_PID=$!
    for _ in $(seq 50); do grep -q serving "$OUT/llm-server.log" && break; sleep 0.2; done
    LLM="openai:loopback@http://127.0.0.1:$PORT/v1"
fi

echo "== Rasa: the bundled assistant on 127.0.0.1:$RASA_PORT"
make -s rasa-serve RASA_PORT="$RASA_PORT"

run_id() { $PY -c 'import json, sys; print(json.load(sys.stdin)["runs"][0]["run_id"])'; }
evaluate() { $WB eval "$PROMPT" --data "$OUT/held_out.jsonl" --model "$1" --json | run_id; }
echo "== the held-out questions through each system"
RASA=$(evaluate "rasa:http://127.0.0.1:$RASA_PORT")
LLM_RUN=$(evaluate "$LLM")
HF=$(evaluate hf:models/support-tiny)
BOT=$(evaluate "chatterbot:datasets/support_en.jsonl")
$WB runs

for run in "$RASA" "$LLM_RUN" "$HF" "$BOT"; do echo; $WB show "$run"; done
for pair in "$LLM_RUN:prompted LLM ($LLM)" "$HF:fine-tuned hf:models/support-tiny" "$BOT:ChatterBot"; do
    echo
    echo "== A = Rasa, B = ${pair#*:}"
    $WB compare "$RASA" "${pair%%:*}"
    $WB significance "$RASA" "${pair%%:*}"
done

echo
echo "== a blind pairwise rating session over the four systems (rate it in make app -> Annotate)"
$WB annotate create --runs "$RASA" "$LLM_RUN" "$HF" "$BOT" --pairwise --name "LLMs vs classic bots" --seed 14

CONV=${CONV:-datasets/support_conversations_en.jsonl}
converse() { $WB eval prompts/support_conversation.yaml --data "$CONV" --model "$1" --history own --json | run_id; }
echo
echo "== the bundled conversations through each system, own history"
C_RASA=$(converse "rasa:http://127.0.0.1:$RASA_PORT")
C_LLM=$(converse "$LLM")
C_HF=$(converse hf:models/support-tiny)
C_BOT=$(converse "chatterbot:datasets/support_en.jsonl")
for run in "$C_RASA" "$C_LLM" "$C_HF" "$C_BOT"; do echo; $WB show "$run"; done
for pair in "$C_LLM:prompted LLM ($LLM)" "$C_HF:fine-tuned hf:models/support-tiny" "$C_BOT:ChatterBot"; do
    echo
    echo "== conversations: A = Rasa, B = ${pair#*:}"
    $WB significance "$C_RASA" "${pair%%:*}"
done
echo
echo "== a blind pairwise rating session over single turns of the conversations"
$WB annotate create --runs "$C_RASA" "$C_LLM" "$C_HF" "$C_BOT" --pairwise --unit turn \
    --name "LLMs vs classic bots, turn by turn" --seed 14
