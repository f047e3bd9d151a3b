"""The claims the mutation check holds the test suite to.

Each claim is a promise the project makes, the deliberate bug that would break it (a small
patch of one or more source files: exact old text, new text) and the tests that guard it.
``run.py`` puts each bug into a scratch copy of the repository in turn and runs only those
tests there: a claim whose tests still pass with its bug in place is not guarded.

Bugs that would make the guarding test run away with the machine (an alias bomb expanded
for real) are left out: their claims are guarded by a bug of the same rule that fails fast.
"""
from __future__ import annotations

from dataclasses import dataclass

LOADER = "tests/test_bad_input_recipe_loader.py"
RUNS = "tests/test_bad_input_runs.py"


@dataclass(frozen=True)
class Claim:
    """``edits``: (file, old text, new text); each old text occurs exactly once in its file."""

    id: str
    claim: str
    edits: tuple[tuple[str, str, str], ...]
    tests: tuple[str, ...]


CLAIMS: tuple[Claim, ...] = (
    Claim("yaml-duplicate-keys", "a key given twice in a YAML mapping is refused",
          (("registry/recipe/yaml_io.py", "                if key in first:", "                if False:"),),
          (f"{LOADER}::test_a_key_given_twice_names_both_lines",
           f"{LOADER}::test_a_key_given_twice_in_an_override_value")),
    Claim("yaml-depth", "YAML nested past 64 levels is refused, not a RecursionError",
          (("registry/recipe/yaml_io.py", "MAX_DEPTH = 64", "MAX_DEPTH = 100_000"),),
          (f"{LOADER}::test_a_very_deep_list_is_refused",)),
    Claim("marker-boolean", "a replace marker must be true or false",
          (("registry/recipe/compose.py", "                    if not isinstance(v, bool):",
            "                    if False:"),),
          (f"{LOADER}::test_replace_markers",)),
    Claim("marker-top-level", "a replace marker at the top level is refused",
          (("registry/recipe/compose.py", "                    if top and not prefix:", "                    if False:"),),
          (f"{LOADER}::test_a_replace_marker_at_the_top_of_a_file",)),
    Claim("override-comment", "an unquoted ' #' in an override value is refused, not cut",
          (("registry/recipe/compose.py", '    if raw.count("#") > _hashes(value):', "    if False:"),),
          (f"{LOADER}::test_a_hash_in_an_unquoted_value_is_not_cut_silently",)),
    Claim("clip-grad-norm", "train.clip_grad_norm <= 0 is refused",
          (("registry/recipe/values.py", "    if v is None or v > 0:", "    if True:"),),
          (f"{LOADER}::test_values_the_types_cannot_judge",)),
    Claim("miou-classes-empty", "an empty eval.miou_classes is refused",
          (("registry/recipe/values.py", "    if not v or not all(", "    if not all("),),
          (f"{LOADER}::test_values_the_types_cannot_judge",)),
    Claim("input-size", "a malformed model.input_size is refused",
          (("registry/recipe/values.py", "    if v is None or (len(v) == 3 and", "    if True or (len(v) == 3 and"),),
          (f"{LOADER}::test_values_the_types_cannot_judge",)),
    Claim("out-name-escape", "out.name is one folder name under out.root",
          (("registry/recipe/values.py", "    if v is None or (v.strip() and", "    if True or (v.strip() and"),),
          (f"{LOADER}::test_values_the_types_cannot_judge",)),
    Claim("run-inside-data", "a run's folder never shares a tree with data.root",
          (("engines/outputs.py", "    if data_root and _overlaps(", "    if False and _overlaps("),),
          (f"{RUNS}::test_out_root_inside_the_dataset_is_refused",
           f"{RUNS}::test_out_dir_as_the_dataset_root_is_refused")),
    Claim("out-dir-foreign-files", "out.dir holding someone's files is refused",
          (("engines/outputs.py", "        if entries:", "        if False:"),),
          (f"{RUNS}::test_out_dir_holding_someone_elses_files_is_refused",)),
    Claim("outputs-resolved", "output folders are compared with inputs resolved (relative paths, links)",
          (("engines/outputs.py", "    target = out.resolve()", "    target = out"),
           ("engines/outputs.py", "        src = Path(given).resolve()\n        if src.is_dir() and _inside(target",
            "        src = Path(given)\n        if src.is_dir() and _inside(target")),
          ("tests/test_outputs.py::test_relative_output_paths_are_resolved_before_the_input_check",)),
    Claim("output-file-in-input", "an output file never goes inside an input folder (export into its run)",
          (("engines/outputs.py", "        if src.is_dir() and _inside(path.resolve().parent, src):",
            "        if False:"),),
          (f"{RUNS}::test_export_into_its_input_run_is_refused",)),
    Claim("resume-settings", "resume refuses settings that change the training (optimizer, lr, schedule, loss)",
          (("engines/resume_check.py", "    if changed:", "    if False:"),),
          (f"{RUNS}::test_resume_with_other_training_settings_is_refused_and_changes_nothing",)),
    Claim("resume-epochs", "resume refuses more epochs under a schedule spanning the run (lr 0)",
          (("engines/resume_check.py", "    if epochs_old != epochs_new and schedule_spans_run(",
            "    if False and schedule_spans_run("),),
          (f"{RUNS}::test_resume_with_other_training_settings_is_refused_and_changes_nothing",)),
    Claim("sched-power", "sched.power <= 0 is refused when the schedule is built",
          (("engines/optim.py", "    if not power > 0:", "    if False:"),),
          (f"{RUNS}::test_component_arguments_are_checked_when_built",)),
    Claim("sched-warmup", "a negative sched.warmup_epochs is refused",
          (("engines/optim.py", "    if not warmup_epochs >= 0:", "    if False:"),),
          (f"{RUNS}::test_component_arguments_are_checked_when_built",)),
    Claim("sparse-adam", "SparseAdam is refused before training",
          (("engines/optim.py", '    if name == "SparseAdam":', "    if False:"),),
          (f"{RUNS}::test_component_arguments_are_checked_when_built",)),
    Claim("label-smoothing", "loss.label_smoothing outside [0, 1] is refused when the loss is built",
          (("zoo/losses.py", "        if not 0.0 <= float(label_smoothing) <= 1.0:", "        if False:"),),
          (f"{RUNS}::test_component_arguments_are_checked_when_built",)),
    Claim("weights-only", "checkpoints are read with weights_only=True (a pickled object never runs)",
          (("engines/checkpoint.py", '        return torch.load(path, map_location="cpu", weights_only=True)',
            '        return torch.load(path, map_location="cpu", weights_only=False)'),),
          ("tests/test_safe_loading.py",)),
    Claim("atomic-history", "history.csv and metrics.json are written through a temporary file and a rename",
          (("engines/run_dir.py", '    tmp = path.with_name(f".{path.name}.tmp")', "    tmp = path"),),
          ("tests/test_run_dir_writes.py",)),
    Claim("sliding-window-blend", "the sliding window blends with the weights its blend argument names",
          (("engines/inference/sliding_window.py", "    weights = window_weights(th, tw, blend)",
            '    weights = window_weights(th, tw, "mean")'),),
          ("tests/test_sliding_window.py::test_the_blend_argument_weights_the_windows",)),
    Claim("evaluate-class-names", "evaluate --json names each IoU by its own class with --classes",
          (("tools/evaluate.py", "{names[c]: num(result[key][c]) for c in classes}",
            "{names[c]: num(result[key][i]) for i, c in enumerate(classes)}"),),
          ("tests/test_evaluate_class_names.py",)),
    Claim("demo-set-foreign-files", "regenerating a demo set never deletes other files in its folder",
          (("zoo/data/synthetic.py", "    if foreign:\n        shown", "    if False:\n        shown"),),
          ("tests/test_bad_input_demo_data.py::test_regenerating_never_deletes_other_files_in_the_set",)),
    Claim("tsne-flag-values", "tsne refuses a NaN perplexity and a seed outside t-SNE's range before any work",
          (("tools/tsne.py", '    if not 0 < args.perplexity < float("inf"):', "    if args.perplexity <= 0:"),),
          ("tests/e2e/test_tsne.py::test_tsne_flag_values_are_checked_before_any_work",)),
    Claim("best-by-loss-name", "a best checkpoint ranked by the loss is named by its negative",
          (("engines/metrics.py", '        return label if self.mode == "max" else f"neg_{label}"',
            "        return label"),),
          ("tests/test_bad_input_runs.py::test_a_best_checkpoint_by_loss_is_named_by_its_negative",)),
    Claim("grey-index-masks", "grey class-index masks read as their classes, not as Unknown",
          (("zoo/data/masks.py", "    if raw.ndim == 2 and raw.dtype == np.uint8 and 0 < int(raw.max()) < NUM_CLASSES:",
            "    if False:"),),
          ("tests/test_grey_index_masks.py",)),
    Claim("bench-missing-module", "the bench turns a missing optional module into a failed row",
          (("bench/scale.py", '"target": "== 1", "met": False}', '"target": None, "met": None}'),),
          ("tests/test_bench.py::test_scale_rows_fail_with_the_reason_when_a_module_is_missing",)),
)
