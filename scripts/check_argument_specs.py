"""Check that every role's meta/argument_specs.yml documents exactly the variables of its defaults.

The prometheus.prometheus collection enforces the same rule in CI; it keeps the documentation
(ansible-doc, the role README) and the defaults from drifting apart.
"""
import pathlib
import sys

import yaml

ROOT = pathlib.Path(__file__).resolve().parent.parent


def default_keys(role):
    keys = set()
    defaults = role / "defaults"
    for path in sorted(list(defaults.glob("main.yml")) + list(defaults.glob("main/*.yml"))):
        keys.update((yaml.safe_load(path.read_text()) or {}).keys())
    return keys


def main():
    failures = []
    for role in sorted(p for p in (ROOT / "roles").iterdir() if p.is_dir()):
        spec_file = role / "meta" / "argument_specs.yml"
        if not spec_file.exists():
            failures.append(f"{role.name}: meta/argument_specs.yml is missing")
            continue
        spec = yaml.safe_load(spec_file.read_text())["argument_specs"]
        options = set(spec.get("main", {}).get("options", {}))
        defaults = default_keys(role)
        for key in sorted(defaults - options):
            failures.append(f"{role.name}: {key} is in defaults but not in argument_specs (main)")
        for key in sorted(k for k in options - defaults if spec["main"]["options"][k].get("required") is not True):
            failures.append(f"{role.name}: {key} is in argument_specs (main) but has no default")
    for failure in failures:
        print(failure)
    print(f"argument_specs: {len(failures)} mismatch(es)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
