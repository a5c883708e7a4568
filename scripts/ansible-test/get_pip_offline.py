"""Offline stand-in for ansible-test's pip bootstrap script (get-pip-24.2.py).

ansible-test downloads get-pip from a host these machines cannot reach before it builds the
virtualenvs of its sanity tests. scripts/sanity.sh saves this file where ansible-test looks for
its cached copy: it bootstraps pip from the standard library (ensurepip), then installs the pip
version ansible-test asked for from the package index.
"""
import subprocess
import sys

IGNORED = {"--no-setuptools", "--no-wheel", "--no-cache-dir", "--disable-pip-version-check"}

subprocess.check_call([sys.executable, "-m", "ensurepip", "--upgrade", "--default-pip"])
args = [arg for arg in sys.argv[1:] if arg not in IGNORED]
if args:
    subprocess.check_call([sys.executable, "-m", "pip", "install", "--disable-pip-version-check", *args])
