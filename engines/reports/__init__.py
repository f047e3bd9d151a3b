"""Reading run directories back and turning them into tables, figures and reports.

Everything here works from what a run wrote (``recipe.yaml``, ``history.csv``,
``metrics.json``, ``masks/grid.png``, ``tsne.png``, ...), so a report can be regenerated at
any time without training. ``runs`` reads a run, ``tables`` and ``figures`` make its parts,
``document`` renders Markdown and self-contained HTML, ``architecture`` builds the model an
architecture table shows, ``comparison`` and ``homework`` write what the tools write.
"""
from ignite_zoo.engines.reports.architecture import architecture_text, recipe_architecture_text, summary_model, summary_text
from ignite_zoo.engines.reports.comparison import write_comparison
from ignite_zoo.engines.reports.document import Doc
from ignite_zoo.engines.reports.figures import (class_styles, plot_comparison, plot_confusion, plot_confusion_matrix,
                                                plot_curves, plot_tsne, save_figure)
from ignite_zoo.engines.reports.homework import write_report
from ignite_zoo.engines.reports.runs import Run, comparable_metric, default_label, open_run, run_labels, short_metric
from ignite_zoo.engines.reports.tables import (Table, class_iou_table, class_scores_table, comparison_table, fmt,
                                               metrics_table, recipe_table, summary_table)

__all__ = [
    "Doc", "Run", "Table", "architecture_text", "recipe_architecture_text", "class_iou_table", "class_scores_table", "class_styles",
    "comparable_metric", "comparison_table", "default_label", "fmt", "metrics_table", "open_run",
    "plot_comparison", "plot_confusion", "plot_confusion_matrix", "plot_curves", "plot_tsne", "recipe_table",
    "run_labels",
    "save_figure", "short_metric", "summary_model", "summary_table", "summary_text", "write_comparison",
    "write_report",
]
