"""Course-style notebooks: built with nbformat from readable percent-format sources, run with nbclient.

A starter lives in the repository as `starter/hwNN.py`, where `# %%` opens a code cell and
`# %% [markdown]` a markdown cell whose lines start with `# `. Diffs stay readable; the released
`.ipynb` is generated from it.

This module imports only nbformat/nbclient, IPython and the standard library, so the same file can run a
notebook inside a sandbox: `python notebook.py run NB.ipynb --cwd DIR --timeout S`. The IPython engine
reads and writes the notebook as plain JSON (importing nbformat costs more than a short cell).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

_CELL = re.compile(r"^# %%(.*)$")


def build_notebook(source: str, title: str | None = None):
    import nbformat
    from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

    cells, kind, buf = [], None, []

    def flush():
        text = "\n".join(buf).strip("\n")
        if kind == "markdown":
            text = "\n".join(line[2:] if line.startswith("# ") else line.lstrip("#") for line in text.splitlines())
            cells.append(new_markdown_cell(text))
        elif kind == "code" and text.strip():
            cells.append(new_code_cell(text))

    for line in source.splitlines():
        m = _CELL.match(line)
        if m:
            if kind is not None:
                flush()
            kind, buf = ("markdown" if "[markdown]" in m.group(1) else "code"), []
        elif kind is not None:
            buf.append(line)
    if kind is not None:
        flush()
    nb = new_notebook(cells=cells, metadata={
        "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
        "language_info": {"name": "python"},
    })
    if title:
        nb.metadata["title"] = title
    nbformat.validate(nb)
    return nb


def write_notebook(source_path: Path, dest: Path) -> Path:
    import nbformat

    nb = build_notebook(Path(source_path).read_text(encoding="utf-8"))
    nbformat.write(nb, str(dest))
    return dest


def code_of(nb_path: Path) -> str:
    """The code cells of a notebook as one script (for similarity checks and probes); magics dropped."""
    import nbformat

    nb = nbformat.read(str(nb_path), as_version=4)
    lines = []
    for cell in nb.cells:
        if cell.cell_type == "code":
            lines.extend(ln for ln in cell.source.splitlines() if not ln.lstrip().startswith(("%", "!")))
            lines.append("")
    return "\n".join(lines)


ENGINES = ("kernel", "ipython")


class CellError(Exception):
    """A cell raised: the message names the cell and the error, as nbclient's CellExecutionError does."""


def run_notebook(nb_path: Path, cwd: Path, timeout: int = 600, save: Path | None = None,
                 engine: str = "kernel") -> None:
    """Execute the notebook; outputs are saved to `save` (default: in place). Raises on a failing cell.

    engine "kernel": nbclient with a Jupyter kernel, exactly as Jupyter runs it.
    engine "ipython": the cells run in this process's IPython shell — the same cell semantics (magics,
    `display`, the last expression's value) without starting a kernel process and its ZeroMQ channels,
    which is most of a short notebook's time. For runs in a fresh sandbox, where the process is the
    notebook's alone; the sandbox's wall-clock limit takes the place of the per-cell timeout.
    """
    if engine == "ipython":
        nb = _read_plain(nb_path)
        if nb is not None:
            try:
                _run_in_shell(nb, Path(cwd))
            finally:
                Path(save or nb_path).write_text(json.dumps(nb, indent=1, ensure_ascii=False), encoding="utf-8")
            return
    import nbformat

    nb = nbformat.read(str(nb_path), as_version=4)
    try:
        if engine == "ipython":
            _run_in_shell(nb, Path(cwd))
        else:
            from nbclient import NotebookClient

            NotebookClient(nb, timeout=timeout, kernel_name="python3",
                           resources={"metadata": {"path": str(cwd)}}).execute()
    finally:
        nbformat.write(nb, str(save or nb_path))


def _read_plain(nb_path: Path) -> dict | None:
    """A v4 notebook as plain JSON with each cell's source as one string; None for anything else (older
    formats go through nbformat's converters)."""
    try:
        nb = json.loads(Path(nb_path).read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        return None  # nbformat.read gives the precise message
    if not isinstance(nb, dict) or nb.get("nbformat") != 4 or not isinstance(nb.get("cells"), list):
        return None
    for cell in nb["cells"]:
        if not isinstance(cell, dict):
            return None
        src = cell.get("source", "")
        cell["source"] = "".join(src) if isinstance(src, list) else str(src)
    return nb


def _output(output_type: str, **fields) -> dict:
    return {"output_type": output_type, **fields}


def _run_in_shell(nb, cwd: Path) -> None:
    """Run the code cells in this process's IPython shell; `nb` is a plain dict or a NotebookNode (both
    take item access), and its cells get the outputs."""
    import os

    from IPython.core.interactiveshell import InteractiveShell
    from IPython.utils.capture import capture_output

    os.chdir(cwd)
    os.environ.setdefault("MPLBACKEND", "Agg")
    shell = InteractiveShell.instance()
    for n, cell in enumerate((c for c in nb["cells"] if c.get("cell_type") == "code"), start=1):
        with capture_output() as cap:
            result = shell.run_cell(cell["source"], store_history=True)
        outputs = [_output("stream", name=name, text=text)
                   for name, text in (("stdout", cap.stdout), ("stderr", cap.stderr)) if text]
        outputs += [_output("display_data", data=o.data, metadata=o.metadata) for o in cap.outputs]
        cell["execution_count"], cell["outputs"] = n, outputs
        sys.stdout.write(cap.stdout)
        sys.stderr.write(cap.stderr)
        error = result.error_before_exec or result.error_in_exec
        if error is not None:
            cell["outputs"].append(_output("error", ename=type(error).__name__, evalue=str(error), traceback=[]))
            raise CellError(f"cell {n}: {type(error).__name__}: {error}")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="notebook.py")
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run")
    r.add_argument("notebook")
    r.add_argument("--cwd", default=".")
    r.add_argument("--timeout", type=int, default=600)
    r.add_argument("--save", default=None, help="Where to write the executed notebook (default: in place).")
    r.add_argument("--engine", choices=ENGINES, default="kernel",
                   help="kernel: a Jupyter kernel (nbclient); ipython: the cells in this process's IPython shell.")
    b = sub.add_parser("build")
    b.add_argument("source")
    b.add_argument("dest")
    a = ap.parse_args(argv)
    if a.cmd == "build":
        write_notebook(Path(a.source), Path(a.dest))
        return 0
    try:
        run_notebook(Path(a.notebook), Path(a.cwd), a.timeout, Path(a.save) if a.save else None, a.engine)
    except Exception as e:  # the cell error is the useful part, not our stack
        print(f"notebook failed: {type(e).__name__}: {str(e)[-4000:]}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
