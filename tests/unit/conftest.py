"""Make the repository importable as ``ansible_collections.aiserver.gpu``.

The collection lives at the repository root, but Ansible code imports it through the
``ansible_collections`` namespace. We build that namespace once under ``build/`` with a
symlink back to the repository, so tests import exactly the files in the working tree.
"""
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
NS = os.path.join(ROOT, "build", "collections")
LINK = os.path.join(NS, "ansible_collections", "aiserver", "gpu")

if not os.path.islink(LINK):
    os.makedirs(os.path.dirname(LINK), exist_ok=True)
    os.symlink(ROOT, LINK)
if NS not in sys.path:
    sys.path.insert(0, NS)

FIXTURES = os.path.join(ROOT, "tests", "unit", "fixtures")
