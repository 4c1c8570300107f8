//! Actions: runner resolution, parameter merging and checks, entry points.

use super::reader::Document;
use super::*;
/// Runners StackStorm has that Nerve deliberately does not run; named in the error message.
const UNSUPPORTED_RUNNERS: &[&str] = &[
    "remote-shell-cmd",
    "remote-shell-script",
    "run-remote",
    "run-remote-script",
    "winrm-cmd",
    "winrm-ps-cmd",
    "winrm-ps-script",
    "windows-cmd",
    "windows-script",
    "announcement",
    "inquirer",
    "mistral-v2",
    "cloudslang",
];

impl PackReader {
    pub(super) fn read_actions(&mut self, pack_ref: &str) -> Vec<LoadedAction> {
        let mut actions: Vec<LoadedAction> = Vec::new();
        for file in self.metadata_files("actions") {
            let Some(doc) = self.parse(&file, DocumentKind::Action) else {
                continue;
            };
            let Some(mut action) = self.deserialize_in_pack::<Action>(&doc, pack_ref) else {
                continue;
            };
            self.check_declared_pack(&doc.doc, &doc.file, &action.pack, pack_ref);
            action.pack = pack_ref.to_owned();
            if actions.iter().any(|a| a.action.name == action.name) {
                self.diagnostics.push(Diagnostic::error(
                    &file,
                    doc.span(&[key("name")]),
                    "name",
                    format!(
                        "action `{}` is declared twice in this pack",
                        action.action_ref()
                    ),
                ));
                continue;
            }
            if let Some(loaded) = self.load_action(action, &doc) {
                actions.push(loaded);
            }
        }
        actions
    }

    fn load_action(&mut self, mut action: Action, doc: &Document) -> Option<LoadedAction> {
        if let Some(current) = runner_alias(&action.runner_type) {
            action.runner_type = current.to_owned();
        }
        let Some(runner) = find_runner(&action.runner_type) else {
            let message = if UNSUPPORTED_RUNNERS.contains(&action.runner_type.as_str()) {
                format!(
                    "runner `{}` is not supported by Nerve (supported: {})",
                    action.runner_type,
                    supported_runners()
                )
            } else {
                format!(
                    "unknown runner `{}` (supported: {})",
                    action.runner_type,
                    supported_runners()
                )
            };
            let names: Vec<&str> = nerve_model::builtin_runners()
                .iter()
                .map(|r| r.name.as_str())
                .collect();
            let hint =
                did_you_mean(&action.runner_type, names).map(|s| format!("did you mean `{s}`?"));
            self.diagnostics.push(with_hint(
                Diagnostic::error(
                    &doc.file,
                    doc.span(&[key("runner_type")]),
                    "runner_type",
                    message,
                ),
                hint,
            ));
            return None;
        };
        self.check_parameter_templates(&action.parameters, doc);
        self.check_positions(&action.parameters, doc);
        let parameters =
            match merge_runner_parameters(&runner.runner_parameters, &action.parameters) {
                Ok(parameters) => parameters,
                Err(errors) => {
                    for error in errors {
                        let nerve_model::ParamError::NotOverridable {
                            parameter,
                            attribute,
                        } = &error
                        else {
                            continue;
                        };
                        let path = [key("parameters"), key(parameter), key(attribute)];
                        self.diagnostics.push(Diagnostic::error(
                            &doc.file,
                            doc.key_span(&path),
                            display_path(&path),
                            error.to_string(),
                        ));
                    }
                    return None;
                }
            };
        let schema = match Schema::compile(parameters_schema(&parameters)) {
            Ok(schema) => schema,
            Err(error) => {
                self.diagnostics.push(Diagnostic::error(
                    &doc.file,
                    doc.span(&[key("parameters")]),
                    "parameters",
                    format!("parameters do not form a valid JSON Schema: {error}"),
                ));
                return None;
            }
        };
        let entry_point = self.action_entry_point(&action, runner, doc)?;
        Some(LoadedAction {
            action,
            parameters,
            schema,
            entry_point,
            file: doc.file.clone(),
        })
    }

    /// `Some(None)`: no entry point (fine for this runner); `None`: an error was recorded.
    fn action_entry_point(
        &mut self,
        action: &Action,
        runner: &RunnerType,
        doc: &Document,
    ) -> Option<Option<PathBuf>> {
        use nerve_model::EntryPointRule;
        match runner.entry_point {
            EntryPointRule::Forbidden => {
                if !action.entry_point.is_empty() {
                    self.diagnostics.push(Diagnostic::warning(
                        &doc.file,
                        doc.span(&[key("entry_point")]),
                        "entry_point",
                        format!(
                            "runner `{}` does not use an entry point; `{}` is ignored",
                            runner.name, action.entry_point
                        ),
                    ));
                }
                Some(None)
            }
            EntryPointRule::Required => {
                if action.entry_point.is_empty() {
                    self.diagnostics.push(Diagnostic::error(
                        &doc.file,
                        doc.key_span(&[key("runner_type")]),
                        "entry_point",
                        format!(
                            "runner `{}` needs an `entry_point` (a file under `actions/`)",
                            runner.name
                        ),
                    ));
                    return None;
                }
                let resolved = self.resolve_entry_point(
                    doc,
                    "actions",
                    &action.entry_point,
                    &[key("entry_point")],
                )?;
                if matches!(runner.name.as_str(), "orquesta" | "action-chain") {
                    // Named as the pack directory was given, like the pack's other files.
                    let named = self.dir.join("actions").join(&action.entry_point);
                    self.check_workflow_file(&resolved, &named, &runner.name);
                }
                Some(Some(resolved))
            }
        }
    }

    /// Reports every problem of a workflow definition (orquesta or action-chain), each at its
    /// line and column in the workflow file.
    fn check_workflow_file(&mut self, file: &Path, named: &Path, runner: &str) {
        let Ok(text) = fs::read_to_string(file) else {
            self.error_whole(named, "cannot read workflow file".to_owned());
            return;
        };
        let problems = if runner == "action-chain" {
            nerve_workflow::Chain::parse(&text).err()
        } else {
            nerve_workflow::Workflow::parse(&text).err()
        };
        for problem in problems.unwrap_or_default() {
            self.diagnostics.push(
                Diagnostic::error(
                    named,
                    Span::new(problem.line, problem.col),
                    problem.path,
                    problem.message,
                )
                .with_optional_hint(problem.hint),
            );
        }
    }

    /// Resolves `entry_point` under `<pack>/<base>/`, refusing anything that leaves the pack
    /// (absolute paths, `..`, symlinks pointing outside) and missing files.
    pub(super) fn resolve_entry_point(
        &mut self,
        doc: &Document,
        base: &str,
        entry_point: &str,
        path: &[PathSegment],
    ) -> Option<PathBuf> {
        let field = display_path(path);
        let relative = Path::new(entry_point);
        let escapes = relative.is_absolute()
            || relative.components().any(|c| {
                matches!(
                    c,
                    Component::ParentDir | Component::RootDir | Component::Prefix(_)
                )
            });
        if escapes {
            self.diagnostics.push(Diagnostic::error(
                &doc.file,
                doc.span(path),
                &field,
                format!("entry point `{entry_point}` must be a relative path inside the pack's `{base}/` directory"),
            ));
            return None;
        }
        let candidate = self.dir.join(base).join(relative);
        let (Ok(real), Ok(pack_root)) = (candidate.canonicalize(), self.dir.canonicalize()) else {
            self.diagnostics.push(Diagnostic::error(
                &doc.file,
                doc.span(path),
                &field,
                format!("entry point `{base}/{entry_point}` does not exist"),
            ));
            return None;
        };
        if !real.starts_with(&pack_root) {
            self.diagnostics.push(Diagnostic::error(
                &doc.file,
                doc.span(path),
                &field,
                format!(
                    "entry point `{base}/{entry_point}` resolves outside the pack (to `{}`)",
                    real.display()
                ),
            ));
            return None;
        }
        if !real.is_file() {
            self.diagnostics.push(Diagnostic::error(
                &doc.file,
                doc.span(path),
                &field,
                format!("entry point `{base}/{entry_point}` is not a file"),
            ));
            return None;
        }
        Some(real)
    }

    fn check_parameter_templates(&mut self, parameters: &ParamMap, doc: &Document) {
        for (name, spec) in parameters {
            if let Some(default) = &spec.default
                && let Err(error) = check_templates(default)
            {
                let path = [key("parameters"), key(name), key("default")];
                self.diagnostics.push(Diagnostic::error(
                    &doc.file,
                    doc.span(&path),
                    display_path(&path),
                    format!("invalid Jinja template: {error}"),
                ));
            }
        }
    }

    /// Two parameters at the same `position` would silently shadow each other's argument.
    fn check_positions(&mut self, parameters: &ParamMap, doc: &Document) {
        let mut seen: BTreeMap<u32, &str> = BTreeMap::new();
        for (name, spec) in parameters {
            let Some(position) = spec.position else {
                continue;
            };
            if let Some(first) = seen.insert(position, name) {
                let path = [key("parameters"), key(name), key("position")];
                self.diagnostics.push(Diagnostic::error(
                    &doc.file,
                    doc.span(&path),
                    display_path(&path),
                    format!("parameters `{first}` and `{name}` both have position {position}"),
                ));
            }
        }
    }
}
