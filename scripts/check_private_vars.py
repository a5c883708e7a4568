"""Fail when a part of the collection reaches into another part's private details.

Rules (issue 14, docs/development.md "Public interfaces"):
  1. a role reads or sets only its own private variables (``__<role>_*``);
  2. nothing outside roles/ (playbooks, plugins, tests, Molecule scenarios) names a role's private
     variable;
  3. ``tasks_from: X`` of a role names an entry point of that role's meta/argument_specs.yml.
Internal roles (``roles/_name``) keep their private variables as ``__name_*``; their inputs
``_name_*`` are their public interface.

    python scripts/check_private_vars.py [ROOT]
"""
import pathlib
import re
import sys

import yaml

SCANNED_SUFFIXES = {".yml", ".yaml", ".j2", ".py", ".md"}
SCANNED_DIRS = ["roles", "playbooks", "plugins", "tests", "extensions"]
SKIPPED_PARTS = {".venv", "__pycache__", "output", ".ansible"}
INCLUDE_ROLE = re.compile(r"include_role:|import_role:")


def role_prefixes(root):
    """{role directory name: its private prefix} e.g. model_server -> __model_server_, _container -> __container_."""
    return {p.name: "__%s_" % p.name.lstrip("_") for p in sorted((root / "roles").iterdir()) if p.is_dir()}


def entry_points(root, role):
    spec = root / "roles" / role / "meta" / "argument_specs.yml"
    if not spec.exists():
        return set()
    return set((yaml.safe_load(spec.read_text()) or {}).get("argument_specs", {}) or {})


def owner_of(root, path):
    rel = path.relative_to(root).parts
    return rel[1] if rel[0] == "roles" and len(rel) > 2 else None


def scanned_files(root):
    for top in SCANNED_DIRS:
        base = root / top
        if not base.is_dir():
            continue
        for path in sorted(base.rglob("*")):
            if path.is_file() and path.suffix in SCANNED_SUFFIXES and not SKIPPED_PARTS.intersection(path.parts):
                if path.name.startswith("test_check_private_vars"):
                    continue  # this check's own tests name private variables on purpose
                yield path


def private_uses(text, prefixes):
    """(line number, name, role) of every name that starts with a role's private prefix."""
    alternatives = "|".join(re.escape(p) for p in sorted(set(prefixes.values()), key=len, reverse=True))
    pattern = re.compile(r"(?<![A-Za-z0-9_])(%s)[A-Za-z0-9_]*" % alternatives)
    by_prefix = {v: k for k, v in prefixes.items()}
    for number, line in enumerate(text.splitlines(), 1):
        for match in pattern.finditer(line):
            yield number, match.group(0), by_prefix[match.group(1)]


def tasks_from_calls(text):
    """(line number, role, entry point) of every include_role/import_role with tasks_from."""
    lines = text.splitlines()
    for number, line in enumerate(lines, 1):
        found = re.search(r"\btasks_from:\s*['\"]?([A-Za-z0-9_./-]+)", line)
        if not found:
            continue
        window = lines[max(0, number - 8):number + 6]
        name = None
        for candidate in window:
            named = re.search(r"\bname:\s*['\"]?numaserve\.ovms\.([A-Za-z0-9_]+)['\"]?\s*$", candidate)
            if named:
                name = named.group(1)
        if name and any(INCLUDE_ROLE.search(c) for c in window):
            yield number, name, pathlib.PurePath(found.group(1)).stem


def check(root):
    root = pathlib.Path(root)
    prefixes = role_prefixes(root)
    problems = []
    for path in scanned_files(root):
        text = path.read_text(errors="replace")
        rel = path.relative_to(root)
        owner = owner_of(root, path)
        for number, name, role in private_uses(text, prefixes):
            if role != owner:
                where = "role %s" % owner if owner else "it"
                problems.append("%s:%d: %s is private to role %s; %s must use that role's public inputs, outputs or "
                                "entry points instead" % (rel, number, name, role, where))
        for number, role, entry in tasks_from_calls(text):
            if role in prefixes and entry not in entry_points(root, role):
                problems.append("%s:%d: tasks_from %s of role %s is not an entry point of roles/%s/meta/argument_specs.yml; "
                                "call a documented entry point (or add one with an argument spec)"
                                % (rel, number, entry, role, role))
    return problems


def main(argv):
    root = pathlib.Path(argv[1]) if len(argv) > 1 else pathlib.Path(__file__).resolve().parent.parent
    problems = check(root)
    for problem in problems:
        print(problem)
    print("private variables and entry points: %d violation(s)" % len(problems))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
