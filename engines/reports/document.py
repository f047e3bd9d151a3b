"""Documents: one structure (headings, text, tables, code, images) rendered to Markdown
and to a self-contained HTML file (images embedded), so the two always say the same."""
from __future__ import annotations

import base64
import html
import os
from dataclasses import dataclass, field
from pathlib import Path

from ignite_zoo.engines.reports.tables import Table


@dataclass
class Doc:
    title: str
    blocks: list[tuple] = field(default_factory=list)

    def heading(self, text: str, level: int = 2) -> None:
        self.blocks.append(("h", level, text))

    def text(self, text: str) -> None:
        self.blocks.append(("p", text))

    def table(self, table: Table) -> None:
        self.blocks.append(("table", table))

    def code(self, text: str) -> None:
        self.blocks.append(("code", text))

    def image(self, path: Path, caption: str) -> None:
        self.blocks.append(("img", Path(path), caption))

    def markdown(self, base: Path) -> str:
        """Markdown with images linked relative to ``base`` (the folder the file goes in)."""
        out = [f"# {self.title}", ""]
        for b in self.blocks:
            if b[0] == "h":
                out += ["#" * b[1] + " " + b[2], ""]
            elif b[0] == "p":
                out += [b[1], ""]
            elif b[0] == "table":
                out += [b[1].markdown(), ""]
            elif b[0] == "code":
                out += ["```", b[1].rstrip("\n"), "```", ""]
            elif b[0] == "img":
                rel = Path(os.path.relpath(b[1], base)).as_posix()
                out += [f"![{b[2]}]({rel})", "", f"*{b[2]}*", ""]
        return "\n".join(out)

    def html(self) -> str:
        """One HTML file with every image embedded (base64), so it can be mailed or printed alone."""
        parts = [f"<h1>{html.escape(self.title)}</h1>"]
        for b in self.blocks:
            if b[0] == "h":
                slug = "".join(ch if ch.isalnum() else "-" for ch in b[2].lower()).strip("-")
                parts.append(f"<h{b[1]} id='{html.escape(slug)}'>{html.escape(b[2])}</h{b[1]}>")
            elif b[0] == "p":
                parts.append(f"<p>{_inline_html(b[1])}</p>")
            elif b[0] == "table":
                parts.append(b[1].html())
            elif b[0] == "code":
                parts.append(f"<pre>{html.escape(b[1])}</pre>")
            elif b[0] == "img":
                data = base64.b64encode(Path(b[1]).read_bytes()).decode("ascii")
                parts.append(f"<figure><img alt='{html.escape(b[2])}' src='data:image/png;base64,{data}'>"
                             f"<figcaption>{html.escape(b[2])}</figcaption></figure>")
        style = (
            "body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;max-width:1000px;margin:2em auto;"
            "padding:0 1em;color:#222;line-height:1.45}"
            "table{border-collapse:collapse;margin:0.6em 0 1.2em}"
            "th,td{border:1px solid #ccc;padding:0.25em 0.6em;font-variant-numeric:tabular-nums}"
            "th{background:#f3f3f3}pre{background:#f7f7f7;padding:0.8em;overflow-x:auto;font-size:0.8em}"
            "figure{margin:1em 0}img{max-width:100%}figcaption{font-style:italic;color:#555}"
            "code{background:#f3f3f3;padding:0 0.2em}"
        )
        return ("<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
                f"<title>{html.escape(self.title)}</title><style>{style}</style></head><body>\n"
                + "\n".join(parts) + "\n</body></html>\n")


def _inline_html(text: str) -> str:
    """Escape, then render Markdown's `code` spans (the only inline markup reports use)."""
    pieces = html.escape(text).split("`")
    return "".join(f"<code>{p}</code>" if i % 2 else p for i, p in enumerate(pieces))
