#!/usr/bin/env python3
"""models/train/prep.py — token table for training, made with `llava-eval tokenize`.

Every prompt the procedural suites can ask (object-size, count, position, text-size),
wrapped in the llava-1.5 template exactly as engine/prompt.c builds it (system part
with BOS, user part "QUESTION\\nINSTRUCTION\\nASSISTANT:" without BOS), and every
answer ("Yes"/"No", the 100 words, digits 1-8), tokenized by our own tokenizer so
that training and inference agree. Writes one JSON file:

  {"system": [ids], "user": {question: [ids]}, "answer": {answer: [ids]}, ...}

usage: prep.py --bin ./llava-eval --vocab tests/data/vocab/ggml-vocab-llama-spm.gguf -o tokens.json
"""
import argparse
import json
import subprocess
from concurrent.futures import ThreadPoolExecutor

# Kept in step with datasets/synth.c and datasets/canvas.c.
COLOURS = ["red", "green", "blue", "yellow", "purple", "orange"]
SHAPES = ["circle", "square", "triangle", "diamond", "star", "cross"]
PLURALS = ["circles", "squares", "triangles", "diamonds", "stars", "crosses"]
RELATIONS = ["to the left of", "to the right of", "above", "below"]
WORDS = """apple bread chair dog river house train cloud horse lemon piano tiger candle garden
window rocket forest bottle pencil camera planet silver winter summer market button basket
orange banana guitar mirror pillow ladder hammer island castle dragon anchor bridge carpet
cherry donkey engine falcon ginger helmet jacket kitten lizard magnet needle oyster parrot
rabbit saddle tomato violin walnut yogurt zebra cat sun map cup key owl fox bee pen box lamp
ship moon fish milk rain snow tree wolf frog book door ring star boat coin desk kite nest salt
clock spoon plate shirt shoe stone sugar table wheel whale""".split()
SYSTEM = ("A chat between a curious human and an artificial intelligence assistant. The "
          "assistant gives helpful, detailed, and polite answers to the human's questions.\nUSER:")
INSTR_WORD = "Answer the question using a single word or phrase."
INSTR_NUM = "Answer the question using a single number."


def combos():
    return [f"{c} {s}" for s in SHAPES for c in COLOURS]   # index = shape*6 + colour


def questions():
    """(question, instruction) for every prompt a suite can produce."""
    qs = []
    for name in combos():
        art = "an" if name[0] in "aeiou" else "a"
        qs.append((f"Is there {art} {name} in the image?", INSTR_WORD))
    for s, p in enumerate(PLURALS):
        for c in COLOURS:
            qs.append((f"How many {c} {p} are there in the image?", INSTR_NUM))
    names = combos()
    for a in names:
        for b in names:
            if a.split()[1] == b.split()[1]:
                continue
            for r in RELATIONS:
                qs.append((f"Is the {a} {r} the {b}?", INSTR_WORD))
    qs.append(("What word is written in the image?", INSTR_WORD))
    return qs


def tokenize(binary, vocab, text, bos):
    cmd = [binary, "tokenize", "-m", vocab, "--stdin"] + ([] if bos else ["--no-bos"])
    out = subprocess.run(cmd, input=text.encode(), capture_output=True, check=True)
    return [int(t) for t in out.stdout.split()]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default="./llava-eval")
    ap.add_argument("--vocab", default="tests/data/vocab/ggml-vocab-llama-spm.gguf")
    ap.add_argument("-o", "--out", default="tokens.json")
    ap.add_argument("-j", type=int, default=4)
    a = ap.parse_args()

    qs = questions()
    answers = ["Yes", "No"] + WORDS + [str(i) for i in range(0, 10)]
    with ThreadPoolExecutor(a.j) as ex:
        user = list(ex.map(lambda q: tokenize(a.bin, a.vocab, f"{q[0]}\n{q[1]}\nASSISTANT:", False), qs))
        ans = list(ex.map(lambda s: tokenize(a.bin, a.vocab, s, False), answers))
    table = {
        "template": "llava-1.5",
        "system": tokenize(a.bin, a.vocab, SYSTEM, True),
        "user": {q[0]: ids for q, ids in zip(qs, user)},
        "answer": {s: ids for s, ids in zip(answers, ans)},
        "eos": 2,
        "words": WORDS,
        "combos": combos(),
    }
    with open(a.out, "w") as f:
        json.dump(table, f)
    print(f"{len(qs)} prompts, {len(answers)} answers -> {a.out}")


if __name__ == "__main__":
    main()
