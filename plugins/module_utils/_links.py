# -*- coding: utf-8 -*-
# Copyright: aiserver.gpu maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The physics of GPU links: how fast a PCIe or NVLink link can go, one way.

Pure, standard library only. The ``gpu_validation`` filters judge measured bandwidths (P2P
pairs, NCCL bus bandwidth) as a share of these limits; the unit tests call them directly.

What is here
    * :data:`PCIE_LANE_GBPS`: PCIe payload bandwidth per lane and direction, by generation;
    * :data:`NVLINK_LINK_GBPS`, :data:`NVLINK_GA102_LINK_GBPS`: NVLink per link and direction,
      by architecture (GA102 boards have their own, slower links);
    * :func:`architecture`: a GPU's architecture, nvidia-smi's or guessed from the product name
      (:data:`ARCH_BY_NAME`);
    * :func:`pcie_limit_gbps`, :func:`nvlink_limit_gbps`, :func:`pair_limit`.

The GPU dicts are those of ``_nvidia_smi.parse_query_xml`` (``name``, ``architecture``,
``pcie_gen_max``...); an ``nvidia_smi_info`` result (``gpus``, ``topology.matrix``) is an
``smi``. Nothing here raises on a missing or odd value: the answer is then None.
"""

from __future__ import annotations

import re

# PCIe payload bandwidth per lane and direction, GB/s (x16: Gen3 15.75, Gen4 31.5, Gen5 63).
PCIE_LANE_GBPS = {1: 0.25, 2: 0.5, 3: 0.984375, 4: 1.96875, 5: 3.9375, 6: 7.875}
# NVLink per link and direction, GB/s, by architecture (Pascal NVLink1, Volta/Turing NVLink2,
# Ampere NVLink3, Hopper NVLink4, Blackwell NVLink5).
NVLINK_LINK_GBPS = {"Pascal": 20.0, "Volta": 25.0, "Turing": 25.0, "Ampere": 25.0, "Hopper": 25.0,
                    "Blackwell": 50.0}
# GA102 boards (RTX 3090, RTX A6000, A40): 4 NVLink3 links of 112.5 GB/s both ways in all.
NVLINK_GA102_LINK_GBPS = 14.0625
GA100_RE = re.compile(r"\bA(100|800|30)\b")

# The architecture from the product name, for drivers whose XML has no product_architecture.
ARCH_BY_NAME = (
    (re.compile(r"\bG?B(100|200)\b|RTX 50\d0|Blackwell", re.I), "Blackwell"),
    (re.compile(r"\bG?H(100|200|800|20)\b", re.I), "Hopper"),
    (re.compile(r"RTX 40\d0|\bL(40S?|4|20)\b|\bAda\b", re.I), "Ada Lovelace"),
    (re.compile(r"\bA(100|800|30|40|10|16|2)\b|RTX 30\d0|RTX A\d{4}", re.I), "Ampere"),
    (re.compile(r"RTX 20\d0|TITAN RTX|Quadro RTX|\bT4\b|GTX 16\d0", re.I), "Turing"),
    (re.compile(r"V100|TITAN V\b", re.I), "Volta"),
    (re.compile(r"P100|\bP40\b|\bP4\b|GTX 10\d0|GT 1030|TITAN Xp?\b|Quadro P", re.I), "Pascal"),
)


def _dict(value):
    return value if isinstance(value, dict) else {}


def _int(value):
    """A positive int from an int (or a str of digits); None otherwise (bools included)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return value if isinstance(value, int) and value > 0 else None


def _gpus(smi):
    gpus = _dict(smi).get("gpus")
    return [gpu for gpu in gpus if isinstance(gpu, dict)] if isinstance(gpus, list) else []


def architecture(gpu):
    """The GPU's architecture: nvidia-smi's, else guessed from the product name; None when unknown."""
    gpu = _dict(gpu)
    if isinstance(gpu.get("architecture"), str) and gpu["architecture"]:
        return gpu["architecture"]
    name = gpu.get("name") if isinstance(gpu.get("name"), str) else ""
    for regex, arch in ARCH_BY_NAME:
        if regex.search(name):
            return arch
    return None


def pcie_limit_gbps(gen, width):
    """Physical PCIe bandwidth per direction, GB/s, of a link of generation ``gen`` and ``width``
    lanes; None when either is unknown."""
    gen, width = _int(gen), _int(width)
    if not gen or not width or gen not in PCIE_LANE_GBPS:
        return None
    return round(PCIE_LANE_GBPS[gen] * width, 3)


def nvlink_limit_gbps(gpu, links):
    """``(GB/s, how)``: the physical NVLink bandwidth per direction of ``links`` links of
    ``gpu`` and the sentence it comes from (``Ampere 25 GB/s per link``); ``(None, None)`` when
    the architecture is unknown."""
    arch = architecture(gpu)
    per_link = NVLINK_LINK_GBPS.get(arch)
    name = _dict(gpu).get("name")
    if arch == "Ampere" and not GA100_RE.search(name if isinstance(name, str) else ""):
        per_link = NVLINK_GA102_LINK_GBPS
    links = _int(links)
    if per_link is None or links is None:
        return None, None
    return round(per_link * links, 3), "%s %g GB/s per link" % (arch, per_link)


def _lower(values):
    values = [value for value in (_int(value) for value in values) if value is not None]
    return min(values) if values else None


def pair_limit(smi, first, second):
    """``(GB/s, label)``: the physical one-way limit of the link between two GPUs of ``smi``.

    NVLink when ``topo -m`` shows ``NV#`` between them, else PCIe at the lower of the two GPUs'
    maximum generation and width. ``(None, reason)`` when it cannot be told.
    """
    gpus = _gpus(smi)
    if not isinstance(first, int) or not isinstance(second, int) or not (0 <= first < len(gpus)) \
            or not (0 <= second < len(gpus)):
        return None, "GPU not in nvidia-smi"
    one, two = gpus[first], gpus[second]
    cell = _dict(_dict(_dict(_dict(smi).get("topology")).get("matrix")).get("GPU%d" % first)).get("GPU%d" % second)
    match = re.match(r"^NV(\d+)$", cell if isinstance(cell, str) else "")
    if match:
        limit, how = nvlink_limit_gbps(one, int(match.group(1)))
        return limit, "NVLink %s (%s)" % (cell, how or "unknown generation")
    gen = _lower([one.get("pcie_gen_max") or one.get("pcie_gen_current"),
                  two.get("pcie_gen_max") or two.get("pcie_gen_current")])
    width = _lower([one.get("pcie_width_max") or one.get("pcie_width_current"),
                    two.get("pcie_width_max") or two.get("pcie_width_current")])
    limit = pcie_limit_gbps(gen, width)
    return limit, ("PCIe Gen%s x%s" % (gen, width)) if limit else "PCIe link unknown"
