# -*- coding: utf-8 -*-
# Copyright: aiserver.gpu contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""NVIDIA driver branches as data: end of life, known-bad GPUs, what each release offers.

The one place the collection keeps these facts. Read by the filters
``aiserver.gpu.driver_branch_info`` (nvidia_driver role: warn about a pinned branch past its
end of life) and ``aiserver.gpu.driver_branch_known_bad`` (gpu_validation role: the driver
branch x GPU entries of its known-bad check, merged in by ``gpu_validation_judge``).

Every fact carries the address it was read from (``source``). Dates: NVIDIA gives a month
("June 2026"); the table keeps NVIDIA's words in ``eol_text`` and, in ``eol``, the first day
of that month (ISO 8601), so the warning comes at the start of the month, never after the
branch has lost support. A branch NVIDIA lists as ended without a date has ``eol: None`` and
``ended: True``. New Feature Branches have no end-of-life date at all: NVIDIA does not
support them in production.

No Ansible imports: pure data and pure functions, unit-tested directly.
"""

from __future__ import annotations

import datetime
import re

# NVIDIA's support matrix, one edition per driver release (the unversioned page is the v580
# edition; 615 and 620 are later ones).
NVIDIA_MATRIX_580 = "https://docs.nvidia.com/datacenter/tesla/drivers/supported-drivers-and-cuda-toolkit-versions.html"
NVIDIA_MATRIX_615 = "https://docs.nvidia.com/datacenter/tesla/drivers/615/supported-drivers-and-cuda-toolkit-versions.html"
NVIDIA_MATRIX_620 = "https://docs.nvidia.com/datacenter/tesla/drivers/620/supported-drivers-and-cuda-toolkit-versions.html"
NVIDIA_LIFECYCLE = "https://docs.nvidia.com/datacenter/tesla/drivers/driver-lifecycle.html"
NVIDIA_CURRENT_RELEASES = "https://forums.developer.nvidia.com/t/current-graphics-driver-releases/28500/12"
NCCL_TESTS_117 = "https://github.com/NVIDIA/nccl-tests/issues/117"
NCCL_814 = "https://github.com/NVIDIA/nccl/issues/814"

KINDS = {
    "LTSB": "Long Term Support Branch",
    "PB": "Production Branch",
    "NFB": "New Feature Branch",
}

# branch -> facts. kind: LTSB, PB or NFB. eol: ISO date or None; eol_text: NVIDIA's words;
# ended: NVIDIA lists the branch as end of life without a date; known_bad: entries with the
# fields of roles/gpu_validation/vars/known_bad.yml (driver_branch is filled in from the key).
BRANCHES = {
    "470": {
        "kind": "LTSB", "eol": "2024-07-01", "eol_text": "July 2024",
        "source": "https://github.com/endoflife-date/endoflife.date/pull/2962",
        "note": "date from endoflife.date (its review cites NVIDIA's matrix of the time), not from an NVIDIA page",
    },
    "520": {"kind": "NFB", "source": "https://github.com/flathub/org.freedesktop.Platform.GL.nvidia/pull/131"},
    "525": {"kind": "PB", "ended": True, "source": NVIDIA_MATRIX_580},
    "530": {"kind": "NFB", "source": "https://github.com/canonical/nvidia-graphics-drivers/issues/56"},
    "535": {"kind": "LTSB", "eol": "2026-06-01", "eol_text": "June 2026", "source": NVIDIA_MATRIX_615},
    "545": {
        "kind": "NFB", "source": NVIDIA_MATRIX_580,
        "note": "in no edition of NVIDIA's matrix (which lists only LTSB and PB branches, and the ended ones "
                "by name): a New Feature Branch; no NVIDIA page naming its kind was found",
    },
    "550": {
        "kind": "PB", "eol": "2025-06-01", "eol_text": "June 2025", "ended": True,
        "source": "https://github.com/NVIDIA/gpu-driver-container/pull/381",
        "note": "NVIDIA's v580 matrix lists R550 as end of life without a date; the month is from NVIDIA's driver container",
    },
    "560": {"kind": "NFB", "ended": True, "source": NVIDIA_MATRIX_580},
    "565": {"kind": "NFB", "ended": True, "source": NVIDIA_MATRIX_580},
    "570": {"kind": "PB", "eol": "2026-02-01", "eol_text": "February 2026", "source": NVIDIA_MATRIX_580},
    "575": {"kind": "NFB", "ended": True, "source": NVIDIA_MATRIX_580},
    "580": {
        "kind": "LTSB", "eol": "2028-06-01", "eol_text": "June 2028", "source": NVIDIA_MATRIX_620,
        "note": "the v580 edition of the matrix said August 2028; the 615 and 620 editions say June 2028",
    },
    "590": {"kind": "NFB", "source": NVIDIA_CURRENT_RELEASES},
    "595": {"kind": "PB", "eol": "2027-03-01", "eol_text": "March 2027", "source": NVIDIA_MATRIX_620},
    "610": {"kind": "NFB", "eol": "2026-08-01", "eol_text": "August 2026", "source": NVIDIA_MATRIX_615},
    "620": {"kind": "LTSB", "eol": "2029-09-01", "eol_text": "September 2029", "source": NVIDIA_MATRIX_620},
}

# Known-bad driver branch x GPU combinations (gpu_validation's known_bad check reads these).
KNOWN_BAD = [
    {
        "id": "driver-545-ga102-ad102-geforce",
        "driver_branch": ["545"],
        "product": "GeForce RTX (3080|3090|4080|4090)",
        "gpus": "GA102/AD102 GeForce (RTX 3080, 3090, 3090 Ti, 4080, 4090)",
        "severity": "fail",
        "reason": (
            "NCCL hangs at '# Using devices' or in the first sizes on multi-GPU GA102/AD102 GeForce "
            "boxes (RTX 3080/3090/3090 Ti/4080/4090) with the 545 driver branch: the driver lets NCCL "
            "try a peer-to-peer path these boards cannot carry"),
        "fix": "install another driver branch (535 or 550 and later: nvidia_driver role) or run NCCL with NCCL_P2P_DISABLE=1",
        "ref": "NVIDIA/nccl-tests issue 117",
        "source": NCCL_TESTS_117,
    },
    {
        "id": "early-ada-driver-rtx4090-p2p",
        "driver_branch": ["520", "525", "530"],
        "product": "GeForce RTX 4090",
        "gpus": "AD102 GeForce (RTX 4090)",
        "severity": "fail",
        "reason": (
            "the first Ada drivers report peer-to-peer as available on the RTX 4090, which it does not "
            "support: NCCL hangs and P2P copies are slower than host-staged ones"),
        "fix": "install driver 535 or later (nvidia_driver role), where the RTX 4090 reports no P2P",
        "ref": "NVIDIA/nccl-tests issue 117, NVIDIA/nccl issue 814",
        "source": NCCL_814,
    },
]

# The fields gpu_validation's judge reads (vars/known_bad.yml); the others are for people.
JUDGE_FIELDS = ("id", "driver_branch", "architectures", "product", "brand", "p2p_status", "severity",
                "reason", "fix", "ref")

# What each supported release offers, and what to choose there today. "recommended" is the
# branch to set in nvidia_driver_branch; "source" the role's nvidia_driver_source for it.
RELEASES = {
    "Debian-12": {
        "name": "Debian 12 (bookworm)",
        "distribution_branches": ["535"],
        "recommended": "535",
        "source": "debian",
        "why": (
            "Debian 12 ships only the 535 branch in non-free and keeps patching it in its own archive "
            "after NVIDIA's end of life; the role installs nothing else on Debian 12. For a branch NVIDIA "
            "still supports (580, long-term to June 2028) plan the move to NVIDIA's CUDA repository or to a "
            "later Debian release"),
        "sources": ["https://packages.debian.org/bookworm/nvidia-driver",
                    "https://packages.debian.org/bookworm-backports/nvidia-driver"],
    },
    "Ubuntu-22": {
        "name": "Ubuntu 22.04 (jammy)",
        "distribution_branches": ["535", "570", "580"],
        "recommended": "580",
        "source": "ubuntu",
        "why": (
            "580 is NVIDIA's long-term branch (end of life June 2028) and Ubuntu ships it as "
            "nvidia-headless-580-server in jammy-updates; 535 ended in June 2026"),
        "sources": ["https://packages.ubuntu.com/jammy-updates/nvidia-headless",
                    "https://bugs.launchpad.net/bugs/2129682", NVIDIA_MATRIX_620],
    },
    "Ubuntu-24": {
        "name": "Ubuntu 24.04 (noble)",
        "distribution_branches": ["580"],
        "recommended": "580",
        "source": "ubuntu",
        "why": (
            "580 is NVIDIA's long-term branch (end of life June 2028); in noble the 535-server packages "
            "are now transitional packages that pull in 580-server"),
        "sources": ["https://packages.ubuntu.com/source/noble/libs/nvidia-graphics-drivers-580-server",
                    "https://packages.ubuntu.com/noble/libs/libnvidia-extra-535-server", NVIDIA_MATRIX_620],
    },
}

_BRANCH_RE = re.compile(r"^\s*(\d{3})(?:\.\S*)?\s*$")


def branch_of(value):
    """``'535'`` from ``535``, ``'535'`` or ``'535.261.03'``; None for anything else."""
    match = _BRANCH_RE.match(str(value if value is not None else ""))
    return match.group(1) if match else None


def parse_date(value):
    """A ``datetime.date`` from a date, a datetime or an ISO ``YYYY-MM-DD`` text; None otherwise."""
    if isinstance(value, datetime.datetime):
        return value.date()
    if isinstance(value, datetime.date):
        return value
    try:
        return datetime.date.fromisoformat(str(value).strip()[:10])
    except (TypeError, ValueError):
        return None


def release_key(distribution, version):
    """``'Ubuntu-22'`` from (``'Ubuntu'``, ``'22.04'``); None when either is missing."""
    if not distribution or version is None or str(version).strip() == "":
        return None
    return "%s-%s" % (str(distribution).strip(), str(version).strip().split(".", 1)[0])


def known_bad_entries(branch=None):
    """The known-bad entries, in the fields of gpu_validation's vars/known_bad.yml (copies).

    ``branch``: only the entries of that branch (``'545'``); None: every entry."""
    wanted = branch_of(branch) if branch is not None else None
    if branch is not None and wanted is None:
        return []
    out = []
    for entry in KNOWN_BAD:
        if wanted is not None and wanted not in entry["driver_branch"]:
            continue
        out.append(dict((key, list(entry[key]) if isinstance(entry[key], list) else entry[key])
                        for key in JUDGE_FIELDS if key in entry))
    return out


def _eol_words(facts):
    if facts.get("eol_text"):
        return facts["eol_text"]
    if facts.get("ended"):
        return "a date NVIDIA no longer lists"
    return None


def branch_info(branch, today, distribution=None, version=None):
    """What the table says of a driver branch on ``today`` (a date or ISO text).

    Returns ``{branch, known, kind, kind_name, eol, eol_text, past_eol, days_left, known_bad,
    source, recommended, release, warn, sentence}``: ``past_eol`` is True once ``today`` reaches the
    end-of-life date, or when NVIDIA lists the branch as ended; ``days_left`` is the number of
    days to the end of life (negative once past; None without a date); ``known_bad`` the
    entries of the branch (who should not use it and why); ``recommended`` the branch to choose
    on (``distribution``, ``version``) with its reason, None for a release the table does not
    know; ``warn`` whether a person should hear about it (unknown, past its end of life, or a
    New Feature Branch). ``sentence`` says it all for a person, with the dates. Never raises: an unknown branch
    is ``known: False``; a ``today`` that is no date is read as unknown (``past_eol`` None).
    """
    name = branch_of(branch)
    day = parse_date(today)
    key = release_key(distribution, version)
    release = RELEASES.get(key) if key else None
    recommended = None
    if release:
        recommended = {"branch": release["recommended"], "source": release["source"], "why": release["why"],
                       "release": release["name"], "sources": list(release["sources"])}
    facts = BRANCHES.get(name) if name else None
    info = {
        "branch": name if name else (str(branch) if branch is not None else None),
        "known": facts is not None,
        "kind": facts.get("kind") if facts else None,
        "kind_name": KINDS.get(facts.get("kind")) if facts else None,
        "eol": facts.get("eol") if facts else None,
        "eol_text": _eol_words(facts) if facts else None,
        "past_eol": None,
        "days_left": None,
        "warn": True,
        "known_bad": known_bad_entries(name) if name else [],
        "source": facts.get("source") if facts else None,
        "recommended": recommended,
        "release": release["name"] if release else None,
        "sentence": "",
    }
    advice = ""
    if recommended and recommended["branch"] != name:
        advice = " On %s choose %s: %s (%s)." % (recommended["release"], recommended["branch"], recommended["why"],
                                                 recommended["sources"][0])
    elif recommended:
        advice = " It is still the branch to choose on %s: %s." % (recommended["release"], recommended["why"])

    if facts is None:
        info["sentence"] = ("Driver branch %s is not in the collection's driver branch table "
                            "(plugins/module_utils/_driver_branches.py): its end of life is unknown; check "
                            "NVIDIA's support matrix (%s).%s" % (info["branch"], NVIDIA_MATRIX_620, advice))
        return info

    eol = parse_date(facts.get("eol")) if facts.get("eol") else None
    days = (eol - day).days if eol is not None and day is not None else None
    info["days_left"] = days
    if day is not None:
        info["past_eol"] = bool(facts.get("ended")) or (days is not None and days <= 0)
    info["warn"] = info["past_eol"] is not False or facts["kind"] == "NFB"
    kind = "%s (%s)" % (info["kind_name"], facts["kind"])
    on_day = day.isoformat() if day is not None else None
    if info["past_eol"]:
        if days is not None:
            when = "on %s (NVIDIA: %s, %d days before %s)" % (facts["eol"], facts.get("eol_text"), -days, on_day)
        else:
            when = "at a date NVIDIA no longer gives"
        text = ("Driver branch %s, a %s, reached its end of life %s: NVIDIA no longer fixes its bugs or "
                "security holes (%s)." % (name, kind, when, facts["source"]))
    elif days is not None:
        text = ("Driver branch %s, a %s, is supported until %s (NVIDIA: %s, %d days from %s; %s)."
                % (name, kind, facts["eol"], facts.get("eol_text"), days, on_day, facts["source"]))
    elif facts["kind"] == "NFB":
        text = ("Driver branch %s is a New Feature Branch: short-lived, without an end-of-life date, not "
                "meant for production (%s)." % (name, NVIDIA_LIFECYCLE))
    else:
        text = "Driver branch %s, a %s, ends %s (%s)." % (name, kind, facts.get("eol_text") or "at no date given",
                                                          facts["source"])
    for entry in info["known_bad"]:
        text += " Known bad on %s: %s (%s)." % (
            next(e.get("gpus") for e in KNOWN_BAD if e["id"] == entry["id"]), entry["reason"], entry["ref"])
    info["sentence"] = text + advice
    return info
