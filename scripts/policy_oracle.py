#!/usr/bin/env python3
"""Evaluates conftest-style policies with regopy (rego-cpp), an independent
Rego implementation, as the oracle for paved's own evaluation.

Reads one JSON job on stdin: {"files": [[path, text], ...], "inputs": [...]}
and prints, for each input, {"deny": [...], "violation": [...], "warn":
[...]} with each rule's messages sorted, or {"error": "..."} when evaluation
fails. A policy that does not compile prints {"compile_error": "..."} alone.
Exits 3 when regopy is not installed.
"""

import json
import sys

try:
    from regopy import Input, Interpreter
except ImportError:
    sys.exit(3)

RULES = ("deny", "violation", "warn")


def messages(value):
    """A rule's messages: strings, or objects carrying msg; a set of
    objects comes back from rego-cpp as an object keyed by their JSON."""
    if isinstance(value, dict):
        items = []
        for key in value:
            try:
                items.append(json.loads(key))
            except ValueError:
                items.append(key)
    elif isinstance(value, list):
        items = value
    else:
        items = [value]
    out = []
    for item in items:
        if isinstance(item, str):
            out.append(item)
        elif isinstance(item, dict) and isinstance(item.get("msg"), str):
            out.append(item["msg"])
    return sorted(out)


def evaluate(interpreter, data):
    interpreter.set_input(Input(data))
    verdict = {}
    for rule in RULES:
        output = interpreter.query(f"data.main.{rule}")
        if not output.ok():
            return {"error": str(output)}
        text = str(output)
        if text == "undefined":
            verdict[rule] = []
            continue
        expressions = json.loads(text)["expressions"]
        verdict[rule] = messages(expressions[0]) if expressions else []
    return verdict


def main():
    job = json.load(sys.stdin)
    interpreter = Interpreter()
    try:
        for path, text in job["files"]:
            interpreter.add_module(path, text)
        # Compiles the modules: an error here is the policy's.
        interpreter.query("data.main")
    except Exception as error:  # rego-cpp raises its own error types
        print(json.dumps({"compile_error": str(error)}))
        return
    results = []
    for data in job["inputs"]:
        try:
            results.append(evaluate(interpreter, data))
        except Exception as error:
            results.append({"error": str(error)})
    print(json.dumps(results))


if __name__ == "__main__":
    main()
