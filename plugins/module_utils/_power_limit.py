# -*- coding: utf-8 -*-
# Copyright: aiserver.gpu maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pure planning logic for GPU power limits (module ``aiserver.gpu.nvidia_power_limit``).

No Ansible imports: the module feeds it the GPU dicts of
``_nvidia_smi.parse_query_xml(...)["gpus"]`` and runs the commands it plans; the unit
tests call it directly.

GPU dicts
    Only these keys are read: ``index`` (int), ``name``, ``uuid``, ``pci_bus_id``,
    ``persistence_mode`` (bool or None), ``power_limit_w`` (the limit in force),
    ``power_default_limit_w``, ``power_min_limit_w``, ``power_max_limit_w`` (float, or None
    where nvidia-smi says N/A) and, in the read-back only, ``power_requested_limit_w``.

What a request is
    ``limit_w`` applies to every GPU; ``limits`` maps GPU indexes (int, or str of digits)
    or product names (as nvidia-smi prints ``name``; compared case-insensitively, runs of
    white space count as one space) to watts. For one GPU an index key wins over a name
    key, a name key over ``limit_w``; a GPU that nothing names is left alone. A key that
    names no GPU is an error.

Watts are compared with a tolerance (:data:`TOLERANCE_W`): nvidia-smi prints limits with
two decimals and the driver keeps them in milliwatts rounded to what the board accepts,
so an asked value within half a watt of the current one is taken as already set.

GPUs are named in commands by PCI bus id (or UUID when the bus id is unknown), never by
index: nvidia-smi's index is an enumeration order that changes when a GPU is added,
removed or falls off the bus, and CUDA numbers GPUs in yet another order by default.
"""

from __future__ import annotations

import math
import re

TOLERANCE_W = 0.5

# Output of a failed ``nvidia-smi -pl`` / ``-pm`` (see tests/unit/fixtures/nvidia_smi/M_*).
_PERMISSION_RE = re.compile(r"insufficient permissions|permission denied|not have permission", re.I)
_NOT_SUPPORTED_RE = re.compile(r"is not supported for GPU|not supported in current scope", re.I)
_OUT_OF_RANGE_RE = re.compile(
    r"Provided power limit ([0-9.]+) W is not a valid power limit which should be between "
    r"([0-9.]+) W and ([0-9.]+) W for GPU (\S+)"
)


def normalize_name(name):
    """Product name as compared with ``limits`` keys: case-insensitive, white space collapsed."""
    return " ".join(str(name).split()).lower()


def watts_text(value):
    """Watts the way nvidia-smi prints them (``250.00 W``); ``N/A`` for None."""
    if value is None:
        return "N/A"
    return "%.2f W" % value


def watts_arg(value):
    """The ``-pl`` argument for ``value`` watts: at most two decimals, no trailing zeros."""
    text = "%.2f" % value
    return text.rstrip("0").rstrip(".")


def same_watts(first, second, tolerance=TOLERANCE_W):
    """Whether two limits count as equal (both known and closer than ``tolerance``)."""
    if first is None or second is None:
        return False
    return abs(first - second) < tolerance


def gpu_label(gpu):
    """``GPU 0 (NVIDIA GeForce RTX 3090, 00000000:00:10.0)``: index, product name and bus id."""
    return "GPU %s (%s, %s)" % (
        gpu.get("index"), gpu.get("name") or "unknown model", gpu.get("pci_bus_id") or gpu.get("uuid") or "no bus id")


def gpu_selector(gpu):
    """What ``nvidia-smi -i`` gets for ``gpu``: its PCI bus id, else its UUID, else None."""
    return gpu.get("pci_bus_id") or gpu.get("uuid") or None


def gpu_list_text(gpus):
    """``0: NVIDIA GeForce RTX 2080 (00000000:01:00.0), 1: ...`` for error messages."""
    if not gpus:
        return "none"
    return ", ".join(
        "%s: %s (%s)" % (gpu.get("index"), gpu.get("name") or "unknown model", gpu_selector(gpu) or "no bus id")
        for gpu in gpus
    )


def to_watts(value):
    """``value`` as a positive finite float, or None when it is not one (bools are refused)."""
    if isinstance(value, bool) or value is None:
        return None
    try:
        watts = float(value)
    except (TypeError, ValueError):
        return None
    if math.isnan(watts) or math.isinf(watts) or watts <= 0:
        return None
    return watts


def _index_key(key):
    """The GPU index a ``limits`` key stands for, or None when it is a name key."""
    if isinstance(key, bool):
        return None
    if isinstance(key, int):
        return key
    text = str(key).strip()
    if text.isdigit():
        return int(text)
    return None


def ambiguous(gpus):
    """Messages for GPUs that share the name commands would give them (their PCI bus id, or
    their UUID when they have no bus id): an inconsistent read, with which ``-i`` could
    change the wrong GPU and the read back could not tell them apart. Empty when every GPU
    has a name of its own (or none at all, which :func:`plan` reports)."""
    by_selector = {}
    for gpu in gpus:
        selector = gpu_selector(gpu)
        if selector:
            by_selector.setdefault(str(selector).lower(), []).append(gpu)
    problems = []
    for selector, same in sorted(by_selector.items()):
        if len(same) > 1:
            problems.append(
                "%s all report %s %s: nvidia-smi's output is inconsistent, so no command can name one of them "
                "(nvidia-smi -i %s would pick one) and no read back could tell which one changed"
                % (" and ".join(gpu_label(gpu) for gpu in same), "the PCI bus id" if same[0].get("pci_bus_id")
                   else "the UUID", gpu_selector(same[0]), gpu_selector(same[0])))
    return problems


def resolve_requests(gpus, limit_w=None, limits=None):
    """Which limit each GPU is asked for.

    Returns ``(requests, errors)``: ``requests`` maps GPU index to ``(watts, source)`` where
    ``source`` says which option asked (``limit_w``, ``limits['0']``,
    ``limits['NVIDIA GeForce RTX 3090']``); ``errors`` is a list of messages (bad values,
    keys that name no GPU, one GPU given two different values by keys of the same kind).
    """
    errors = []
    requests = {}
    by_index = dict((gpu["index"], gpu) for gpu in gpus)
    limits = limits or {}

    if limit_w is not None:
        watts = to_watts(limit_w)
        if watts is None:
            errors.append("limit_w must be a positive number of watts, got %r" % (limit_w,))
        else:
            for gpu in gpus:
                requests[gpu["index"]] = (watts, "limit_w")

    index_keys, name_keys, unknown = [], [], []
    for key in sorted(limits, key=lambda k: (str(type(k)), str(k))):
        value = limits[key]
        source = "limits[%r]" % (str(key),)
        watts = to_watts(value)
        if watts is None:
            errors.append("%s must be a positive number of watts, got %r" % (source, value))
            continue
        index = _index_key(key)
        if index is not None:
            if index in by_index:
                index_keys.append((index, watts, source))
            else:
                unknown.append(str(key))
            continue
        wanted = normalize_name(key)
        matched = [gpu["index"] for gpu in gpus if normalize_name(gpu.get("name") or "") == wanted]
        if matched:
            name_keys.extend((index, watts, source) for index in matched)
        else:
            unknown.append(str(key))

    if unknown:
        errors.append(
            "limits key%s %s match%s no GPU (keys are GPU indexes or product names as nvidia-smi prints them); "
            "GPUs on this host: %s"
            % ("s" if len(unknown) > 1 else "", ", ".join(repr(k) for k in unknown),
               "" if len(unknown) > 1 else "es", gpu_list_text(gpus))
        )

    # Name keys first, index keys last: the later assignment wins.
    for kind in (name_keys, index_keys):
        seen = {}
        for index, watts, source in kind:
            if index in seen and not same_watts(seen[index][0], watts, 1e-9):
                errors.append(
                    "%s is given two different limits, %s by %s and %s by %s"
                    % (gpu_label(by_index[index]), watts_text(seen[index][0]), seen[index][1], watts_text(watts), source)
                )
                continue
            seen[index] = (watts, source)
        requests.update(seen)
    return requests, errors


def check_request(gpu, watts, source, tolerance=TOLERANCE_W):
    """The error message for asking ``watts`` of ``gpu``, or None when it can be asked."""
    low, high, current = gpu.get("power_min_limit_w"), gpu.get("power_max_limit_w"), gpu.get("power_limit_w")
    if low is None or high is None:
        if same_watts(current, watts, tolerance):
            return None
        return (
            "%s: %s asked by %s, but nvidia-smi reports no power limit range for this GPU "
            "(min/max N/A: power management is not supported, as on most laptop GPUs); current limit %s"
            % (gpu_label(gpu), watts_text(watts), source, watts_text(current))
        )
    if watts < low or watts > high:
        return (
            "%s: %s asked by %s is %s its %s; this GPU allows %s to %s"
            % (gpu_label(gpu), watts_text(watts), source, "below" if watts < low else "above",
               "minimum" if watts < low else "maximum", watts_text(low), watts_text(high))
        )
    return None


def plan(gpus, limit_w=None, limits=None, persistence=True, tolerance=TOLERANCE_W):
    """Plan the power limits of ``gpus`` (dicts as described in the module docstring).

    Returns ``(actions, errors)``. ``actions`` has one dict per GPU, in the order given:

    * ``index``, ``name``, ``uuid``, ``pci_bus_id``, ``selector`` (what ``-i`` gets);
    * ``requested_w`` and ``source`` (None when no option names the GPU);
    * ``current_w``, ``min_w``, ``max_w``, ``default_w``, ``persistence_before``;
    * ``set_limit``: whether ``-pl`` must run; ``enable_persistence``: whether ``-pm 1`` must
      run (only for GPUs asked for a limit, when ``persistence`` is true and the mode is
      known to be off).

    ``errors`` lists every problem found; when it is not empty nothing must be changed.
    """
    requests, errors = resolve_requests(gpus, limit_w, limits)
    if limit_w is None and not limits:
        errors.append("give limit_w or a non-empty limits: no GPU is asked for a power limit")
    actions = []
    for gpu in gpus:
        watts, source = requests.get(gpu["index"], (None, None))
        action = {
            "index": gpu["index"],
            "name": gpu.get("name"),
            "uuid": gpu.get("uuid"),
            "pci_bus_id": gpu.get("pci_bus_id"),
            "selector": gpu_selector(gpu),
            "requested_w": watts,
            "source": source,
            "current_w": gpu.get("power_limit_w"),
            "min_w": gpu.get("power_min_limit_w"),
            "max_w": gpu.get("power_max_limit_w"),
            "default_w": gpu.get("power_default_limit_w"),
            "persistence_before": gpu.get("persistence_mode"),
            "set_limit": False,
            "enable_persistence": False,
        }
        actions.append(action)
        if watts is None:
            continue
        problem = check_request(gpu, watts, source, tolerance)
        if problem:
            errors.append(problem)
            continue
        action["set_limit"] = not same_watts(action["current_w"], watts, tolerance)
        action["enable_persistence"] = bool(persistence) and action["persistence_before"] is False
        if (action["set_limit"] or action["enable_persistence"]) and not action["selector"]:
            errors.append("%s has neither a PCI bus id nor a UUID in nvidia-smi's output, so it cannot be "
                          "named safely in a command" % gpu_label(gpu))
    return actions, errors


def commands(actions, executable):
    """The changing nvidia-smi argv lists, per GPU: ``-pm 1`` first (so the limit holds once
    nvidia-smi exits), then ``-pl``."""
    argvs = []
    for action in actions:
        if action["enable_persistence"]:
            argvs.append([executable, "-i", action["selector"], "-pm", "1"])
        if action["set_limit"]:
            argvs.append([executable, "-i", action["selector"], "-pl", watts_arg(action["requested_w"])])
    return argvs


def find_gpu(gpus, action):
    """The GPU of ``gpus`` (a later read) that ``action`` is about: same bus id, else same UUID."""
    for key in ("pci_bus_id", "uuid"):
        if action.get(key):
            matches = [gpu for gpu in gpus if (gpu.get(key) or "").lower() == action[key].lower()]
            if len(matches) == 1:
                return matches[0]
    return None


def verify(actions, gpus_after, tolerance=TOLERANCE_W):
    """Problems left after the changes: a list of messages, empty when every planned limit and
    persistence mode reads back as asked."""
    problems = []
    for action in actions:
        if not (action["set_limit"] or action["enable_persistence"]):
            continue
        gpu = find_gpu(gpus_after, action)
        label = gpu_label(action)
        if gpu is None:
            problems.append("%s is no longer in nvidia-smi's output" % label)
            continue
        if action["set_limit"] and not same_watts(gpu.get("power_limit_w"), action["requested_w"], tolerance):
            problem = "%s: power limit reads %s after setting %s" % (
                label, watts_text(gpu.get("power_limit_w")), watts_text(action["requested_w"]))
            requested = gpu.get("power_requested_limit_w")
            if same_watts(requested, action["requested_w"], tolerance):
                problem += (" (nvidia-smi shows %s as the requested limit, so something else caps the limit "
                            "in force)" % watts_text(requested))
            problems.append(problem)
        if action["enable_persistence"] and gpu.get("persistence_mode") is not True:
            problems.append("%s: persistence mode still reads %s after -pm 1"
                            % (label, {True: "Enabled", False: "Disabled"}.get(gpu.get("persistence_mode"), "N/A")))
    return problems


def classify_set_output(rc, stdout, stderr):
    """``(error_kind, detail)`` for a failed ``nvidia-smi -pl``/``-pm`` run, or None when it worked.

    The output is looked at even when ``rc`` is 0: some drivers print "... is not supported
    for GPU ..." followed by "Treating as warning and moving on" and exit 0.

    * ``insufficient_permissions``: "Insufficient Permissions" (not root, or root in a container
      without CAP_SYS_ADMIN);
    * ``out_of_range``: "Provided power limit ... is not a valid power limit which should be
      between A W and B W"; ``detail`` is ``(asked, low, high, bus_id)``;
    * ``not_supported``: "Changing power management limit is not supported for GPU ...";
    * ``failed``: any other non-zero exit.
    """
    text = "%s\n%s" % (stdout or "", stderr or "")
    if _PERMISSION_RE.search(text):
        return "insufficient_permissions", None
    match = _OUT_OF_RANGE_RE.search(text)
    if match:
        return "out_of_range", (float(match.group(1)), float(match.group(2)), float(match.group(3)), match.group(4))
    if _NOT_SUPPORTED_RE.search(text):
        return "not_supported", None
    if rc != 0:
        return "failed", None
    return None


def report(actions, gpus_after=None, done=None):
    """The module's ``gpus`` return value.

    ``gpus_after`` is the read after the changes (None in check mode or when nothing ran: the
    after values are then the planned ones). ``done`` is the set of GPU selectors whose
    changes were run (None: all planned ones).
    """
    entries = []
    for action in actions:
        after = find_gpu(gpus_after, action) if gpus_after is not None else None
        planned = done is None or action["selector"] in done
        if after is not None:
            limit_after, persistence_after = after.get("power_limit_w"), after.get("persistence_mode")
        else:
            limit_after = action["requested_w"] if action["set_limit"] and planned else action["current_w"]
            persistence_after = True if action["enable_persistence"] and planned else action["persistence_before"]
        entries.append({
            "index": action["index"],
            "name": action["name"],
            "pci_bus_id": action["pci_bus_id"],
            "uuid": action["uuid"],
            "power_limit_before_w": action["current_w"],
            "power_limit_after_w": limit_after,
            "requested_w": action["requested_w"],
            "min_w": action["min_w"],
            "max_w": action["max_w"],
            "default_w": action["default_w"],
            "persistence_mode_before": action["persistence_before"],
            "persistence_mode_after": persistence_after,
            "changed": bool(planned and (action["set_limit"] or action["enable_persistence"])),
        })
    return entries
