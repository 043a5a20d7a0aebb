# Copyright: aiserver.gpu contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Draw the P2P bandwidth heatmap of a gpu_validation report (runs on the controller).

    python p2p_heatmap.py report.json p2p_heatmap.png

Reads ``p2p_heatmap`` ({labels, matrix, unit, title}) and ``host`` from the report and
draws an annotated N x N heatmap (row = source GPU, column = destination); the diagonal
(a GPU's own memory) and cells without a value are grey.

Exit status: 0 drawn (prints ``unchanged`` when the picture is the same as the one already
there, which is then left alone); 2 bad arguments or unreadable report; 3 matplotlib is
missing; 4 the report has no P2P matrix. A one-line reason goes to stderr.
"""

import json
import os
import sys
import tempfile
import textwrap


def fail(code, message):
    sys.stderr.write(message + "\n")
    return code


def load_heatmap(path):
    """``(host, heatmap dict)`` from the report at ``path``; raises ValueError with a sentence."""
    try:
        with open(path, encoding="utf-8") as handle:
            report = json.load(handle)
    except (OSError, ValueError) as exc:
        raise ValueError("cannot read the report %s: %s" % (path, exc))
    if not isinstance(report, dict):
        raise ValueError("the report %s is not a JSON object" % path)
    heat = report.get("p2p_heatmap") if isinstance(report.get("p2p_heatmap"), dict) else {}
    return report.get("host") or "this host", heat


def square(matrix):
    """The matrix as N x N floats (None for a missing or non-numeric cell), or None when empty."""
    if not isinstance(matrix, list) or not matrix:
        return None
    size = max(len(matrix), max(len(row) if isinstance(row, list) else 0 for row in matrix))
    out = []
    for i in range(size):
        row = matrix[i] if i < len(matrix) and isinstance(matrix[i], list) else []
        out.append([float(row[j]) if j < len(row) and isinstance(row[j], (int, float)) else None
                    for j in range(size)])
    return out


def draw(host, heat, values, out_path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy

    size = len(values)
    labels = list(heat.get("labels") or [])[:size]
    labels += ["GPU%d" % i for i in range(len(labels), size)]
    unit = heat.get("unit") or "GB/s"
    data = numpy.ma.masked_invalid(numpy.array(
        [[numpy.nan if (i == j or cell is None) else cell for j, cell in enumerate(row)] for i, row in enumerate(values)],
        dtype=float))
    cmap = matplotlib.colormaps["viridis"].copy()
    cmap.set_bad("#d0d0d0")
    side = max(4.0, 0.9 * size + 2.5)
    fig, axes = plt.subplots(figsize=(side + 1.2, side))
    image = axes.imshow(data, cmap=cmap, vmin=0)
    fig.colorbar(image, ax=axes, label=unit, fraction=0.046, pad=0.04)
    axes.set_xticks(range(size), labels=labels, rotation=45 if size > 6 else 0)
    axes.set_yticks(range(size), labels=labels)
    axes.set_xlabel("destination")
    axes.set_ylabel("source")
    top = float(data.max()) if data.count() else 0.0
    for i in range(size):
        for j in range(size):
            if i == j:
                text, colour = "-", "black"
            elif values[i][j] is None:
                text, colour = "n/a", "black"
            else:
                text = "%.1f" % values[i][j] if values[i][j] < 100 else "%.0f" % values[i][j]
                colour = "black" if top and values[i][j] > 0.6 * top else "white"
            axes.text(j, i, text, ha="center", va="center", color=colour, fontsize=9 if size <= 8 else 7)
    title = "%s: %s (%s)" % (host, heat.get("title") or "P2P bandwidth", unit)
    # Wrapped to the figure's width: a long host or tool name must not be cut off.
    axes.set_title(textwrap.fill(title, width=max(30, int(side * 9))), fontsize=10)
    fig.tight_layout()
    folder = os.path.dirname(os.path.abspath(out_path))
    handle, temp = tempfile.mkstemp(suffix=".png", dir=folder)
    os.close(handle)
    try:
        fig.savefig(temp, format="png", dpi=100, metadata={"Software": None})
        plt.close(fig)
        with open(temp, "rb") as new:
            fresh = new.read()
        if os.path.exists(out_path):
            with open(out_path, "rb") as old:
                if old.read() == fresh:
                    return False
        os.replace(temp, out_path)
        os.chmod(out_path, 0o644)
        return True
    finally:
        if os.path.exists(temp):
            os.unlink(temp)


def main(argv):
    if len(argv) != 3:
        return fail(2, "usage: p2p_heatmap.py report.json out.png")
    try:
        host, heat = load_heatmap(argv[1])
    except ValueError as exc:
        return fail(2, str(exc))
    values = square(heat.get("matrix"))
    if values is None:
        return fail(4, "The report has no P2P bandwidth matrix (the P2P test did not run or gave none); "
                       "no heatmap drawn.")
    try:
        import matplotlib  # noqa: F401  (only to tell a missing install apart)
        import numpy  # noqa: F401
    except ImportError as exc:
        return fail(3, "matplotlib is not installed on the controller (%s); pip install matplotlib to get "
                       "the P2P heatmap." % exc)
    changed = draw(host, heat, values, argv[2])
    print("wrote %s" % argv[2] if changed else "unchanged %s" % argv[2])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
