"""Renders a template with the tool it was written for, as the oracle paved's
own render is compared with (tests/foreign_templates.rs).

    template_oracle.py cookiecutter TEMPLATE OUT [KEY=VALUE ...]
        cookiecutter --no-input into OUT (the project folder is made inside it)
    template_oracle.py copier TEMPLATE OUT [KEY=VALUE ...]
        copier copy --defaults into OUT, tasks trusted

Hooks and tasks run (paved's test trusts the same templates). Prints nothing
on success; on failure the tool's error goes to stderr and the exit is 1.
Exits 3 when this Python does not have the tool.
"""

import sys


def main() -> int:
    tool, template, out, *pairs = sys.argv[1:]
    data = dict(pair.split("=", 1) for pair in pairs)
    try:
        from cookiecutter.main import cookiecutter
        from copier import run_copy
    except ImportError as e:
        print(f"no {e.name} here", file=sys.stderr)
        return 3
    if tool == "cookiecutter":
        cookiecutter(template, no_input=True, output_dir=out, extra_context=data)
    elif tool == "copier":
        run_copy(template, out, data=data, defaults=True, unsafe=True, quiet=True)
    else:
        print(f"unknown tool {tool!r}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
