//! Reading one pack directory: every kind of metadata file, with diagnostics.

use super::*;
/// What a pack contains, before it is assembled into a [`LoadedPack`].
#[derive(Default)]
pub(super) struct Contents {
    actions: Vec<LoadedAction>,
    sensors: Vec<LoadedSensor>,
    trigger_types: Vec<LoadedTriggerType>,
    rules: Vec<LoadedRule>,
    policies: Vec<LoadedPolicy>,
    runtimes: Vec<RuntimeDef>,
    config_schema: Option<ConfigSchema>,
}

pub(super) struct PackReader {
    pub(super) dir: PathBuf,
    pub(super) diagnostics: Vec<Diagnostic>,
}

/// A parsed metadata file.
pub(super) struct Document {
    pub(super) file: PathBuf,
    pub(super) doc: YamlDocument,
}

impl Document {
    pub(super) fn span(&self, path: &[PathSegment]) -> Span {
        self.doc.value_span(path)
    }

    pub(super) fn key_span(&self, path: &[PathSegment]) -> Span {
        self.doc.key_span(path)
    }
}

impl PackReader {
    pub(super) fn new(dir: &Path) -> Self {
        Self {
            dir: dir.to_path_buf(),
            diagnostics: Vec::new(),
        }
    }

    /// Reads everything that can be read; the pack is partial when there are errors.
    pub(super) fn read(mut self) -> (LoadedPack, Vec<Diagnostic>) {
        let pack_file = self.dir.join("pack.yaml");
        let fallback_ref = dir_name(&self.dir);
        if !self.dir.is_dir() {
            self.error_whole(&self.dir.clone(), "not a directory".to_owned());
            return self.into_parts(
                fallback_ref,
                nerve_model::PackMeta::default(),
                Contents::default(),
            );
        }
        if !pack_file.is_file() {
            let has_packs_inside = fs::read_dir(&self.dir)
                .map(|entries| {
                    entries
                        .filter_map(Result::ok)
                        .any(|e| e.path().join("pack.yaml").is_file())
                })
                .unwrap_or(false);
            let diagnostic = Diagnostic::error(
                &pack_file,
                Span { line: 1, col: 1 },
                "",
                "missing `pack.yaml`: a pack directory must contain one (see `nerve pack init`)",
            );
            self.diagnostics.push(with_hint(
                diagnostic,
                has_packs_inside.then(|| {
                    format!(
                        "`{}` holds packs; pass each pack directory, e.g. `{}/*`",
                        self.dir.display(),
                        self.dir.display()
                    )
                }),
            ));
            return self.into_parts(
                fallback_ref,
                nerve_model::PackMeta::default(),
                Contents::default(),
            );
        }
        let meta_doc = self.parse(&pack_file, DocumentKind::Pack);
        let meta: Option<nerve_model::PackMeta> =
            meta_doc.as_ref().and_then(|d| self.deserialize(d));
        let pack_ref = meta
            .as_ref()
            .and_then(|meta| self.pack_ref(meta, meta_doc.as_ref()))
            .unwrap_or(fallback_ref);

        let runtimes = self.read_runtimes();
        let mut trigger_types = self.read_trigger_types(&pack_ref);
        let (sensors, sensor_trigger_types) = self.read_sensors(&pack_ref);
        trigger_types.extend(sensor_trigger_types);
        let actions = self.read_actions(&pack_ref);
        let rules = self.read_rules(&pack_ref);
        let policies = self.read_policies(&pack_ref);
        let config_schema = self.read_config_schema();
        self.check_unique_trigger_types(&trigger_types);
        self.check_pack_local_references(&pack_ref, &actions, &trigger_types, &rules, &policies);

        let contents = Contents {
            actions,
            sensors,
            trigger_types,
            rules,
            policies,
            runtimes,
            config_schema,
        };
        self.into_parts(pack_ref, meta.unwrap_or_default(), contents)
    }

    fn into_parts(
        mut self,
        pack_ref: String,
        meta: nerve_model::PackMeta,
        contents: Contents,
    ) -> (LoadedPack, Vec<Diagnostic>) {
        let content_hash = match crate::hash::content_hash(&self.dir) {
            Ok(hash) => hash,
            Err(error) => {
                let dir = self.dir.clone();
                self.error_whole(
                    &dir,
                    format!("cannot read the pack's files to compute its content hash: {error}"),
                );
                String::new()
            }
        };
        let pack = LoadedPack {
            pack_ref,
            content_hash,
            dir: self.dir,
            meta,
            actions: contents.actions,
            sensors: contents.sensors,
            trigger_types: contents.trigger_types,
            rules: contents.rules,
            policies: contents.policies,
            runtimes: contents.runtimes,
            config_schema: contents.config_schema,
            warnings: Vec::new(),
        };
        (pack, self.diagnostics)
    }

    pub(super) fn has_errors(&self) -> bool {
        self.diagnostics
            .iter()
            .any(|d| d.severity == Severity::Error)
    }

    pub(super) fn error_whole(&mut self, file: &Path, message: String) {
        self.diagnostics.push(Diagnostic::error(
            file,
            Span { line: 1, col: 1 },
            "",
            message,
        ));
    }

    fn pack_ref(&mut self, meta: &nerve_model::PackMeta, doc: Option<&Document>) -> Option<String> {
        let doc = doc?;
        match meta.pack_ref() {
            Some(pack_ref) => {
                let dir = dir_name(&self.dir);
                if dir != pack_ref && dir != meta.name {
                    self.diagnostics.push(Diagnostic::warning(
                        &doc.file,
                        doc.span(&[key(if meta.pack_ref.is_some() { "ref" } else { "name" })]),
                        if meta.pack_ref.is_some() { "ref" } else { "name" },
                        format!("pack ref `{pack_ref}` differs from its directory name `{dir}`; the ref is used"),
                    ));
                }
                if !nerve_model::is_valid_pack_ref(pack_ref) {
                    self.diagnostics.push(Diagnostic::error(
                        &doc.file,
                        doc.span(&[key("ref")]),
                        "ref",
                        format!("pack ref `{pack_ref}` may contain only lowercase letters, digits and `_`"),
                    ));
                    return None;
                }
                Some(pack_ref.to_owned())
            }
            None => {
                self.diagnostics.push(Diagnostic::error(
                    &doc.file,
                    doc.span(&[key("name")]),
                    "name",
                    format!(
                        "pack name `{}` is not a valid ref (lowercase letters, digits, `_`) and there is no `ref` field",
                        meta.name
                    ),
                ));
                None
            }
        }
    }

    /// Parses and schema-checks one file; `None` when it can't be used (diagnostics recorded).
    pub(super) fn parse(&mut self, file: &Path, kind: DocumentKind) -> Option<Document> {
        let text = match fs::read_to_string(file) {
            Ok(text) => text,
            Err(error) => {
                self.error_whole(file, format!("cannot read file: {error}"));
                return None;
            }
        };
        self.parse_text(file, &text, kind)
    }

    /// Parses and schema-checks text that stands for `file`.
    pub(super) fn parse_text(
        &mut self,
        file: &Path,
        text: &str,
        kind: DocumentKind,
    ) -> Option<Document> {
        let (doc, warnings) = match parse_yaml(text) {
            Ok(parsed) => parsed,
            Err(error) => {
                self.diagnostics
                    .push(Diagnostic::from_yaml_error(file, &error));
                return None;
            }
        };
        for warning in &warnings {
            self.diagnostics
                .push(Diagnostic::from_yaml_warning(file, warning));
        }
        let problems = validate_document(kind, &doc, file);
        let fatal = problems.iter().any(|d| d.severity == Severity::Error);
        self.diagnostics.extend(problems);
        if fatal {
            return None;
        }
        Some(Document {
            file: file.to_path_buf(),
            doc,
        })
    }

    pub(super) fn deserialize<T: DeserializeOwned>(&mut self, doc: &Document) -> Option<T> {
        self.deserialize_value(doc, doc.doc.value.clone())
    }

    /// Deserializes with `pack` defaulting to the pack being loaded.
    pub(super) fn deserialize_in_pack<T: DeserializeOwned>(
        &mut self,
        doc: &Document,
        pack_ref: &str,
    ) -> Option<T> {
        let mut value = doc.doc.value.clone();
        if let Value::Object(map) = &mut value
            && !map.contains_key("pack")
        {
            map.insert("pack".into(), Value::String(pack_ref.to_owned()));
        }
        self.deserialize_value(doc, value)
    }

    pub(super) fn deserialize_value<T: DeserializeOwned>(
        &mut self,
        doc: &Document,
        value: Value,
    ) -> Option<T> {
        match serde_json::from_value(value) {
            Ok(value) => Some(value),
            Err(error) => {
                // The schema accepted the document, so this is a gap between schema and model.
                self.error_whole(&doc.file, format!("cannot read metadata: {error}"));
                None
            }
        }
    }

    /// Metadata files in `sub`, sorted: `*.yaml`, `*.yml`, `*.json` as StackStorm loads them.
    pub(super) fn metadata_files(&mut self, sub: &str) -> Vec<PathBuf> {
        let dir = self.dir.join(sub);
        let Ok(entries) = fs::read_dir(&dir) else {
            return Vec::new();
        };
        let mut files: Vec<PathBuf> = entries
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| {
                p.is_file()
                    && matches!(
                        p.extension().and_then(|e| e.to_str()),
                        Some("yaml" | "yml" | "json")
                    )
            })
            .collect();
        files.sort();
        files
    }

    fn read_runtimes(&mut self) -> Vec<RuntimeDef> {
        let mut out: Vec<RuntimeDef> = Vec::new();
        for file in self.metadata_files("runtimes") {
            let Some(doc) = self.parse(&file, DocumentKind::Runtime) else {
                continue;
            };
            let Some(runtime) = self.deserialize::<RuntimeDef>(&doc) else {
                continue;
            };
            for (index, command) in runtime.verification.iter().enumerate() {
                if let Some(regex) = &command.output_regex
                    && let Err(error) = fancy_regex::Regex::new(regex)
                {
                    let path = [
                        key("verification"),
                        PathSegment::Index(index),
                        key("output_regex"),
                    ];
                    self.diagnostics.push(Diagnostic::error(
                        &file,
                        doc.span(&path),
                        display_path(&path),
                        format!("invalid regex: {error}"),
                    ));
                }
            }
            if runtime.verification.is_empty() && !runtime.always_available {
                self.diagnostics.push(Diagnostic::error(
                    &file,
                    doc.span(&[key("verification")]),
                    "verification",
                    format!("runtime `{}` needs at least one verification command unless `always_available: true`", runtime.name),
                ));
            }
            if out.iter().any(|r| r.name == runtime.name) {
                self.diagnostics.push(Diagnostic::error(
                    &file,
                    doc.span(&[key("name")]),
                    "name",
                    format!("runtime `{}` is defined twice in this pack", runtime.name),
                ));
                continue;
            }
            out.push(runtime);
        }
        out
    }

    fn read_trigger_types(&mut self, pack_ref: &str) -> Vec<LoadedTriggerType> {
        let mut out = Vec::new();
        for file in self.metadata_files("triggers") {
            let Some(doc) = self.parse(&file, DocumentKind::TriggerType) else {
                continue;
            };
            let Some(mut trigger_type) = self.deserialize_in_pack::<TriggerType>(&doc, pack_ref)
            else {
                continue;
            };
            if trigger_type.pack != pack_ref {
                self.diagnostics.push(Diagnostic::error(
                    &file,
                    doc.span(&[key("pack")]),
                    "pack",
                    format!(
                        "trigger type belongs to pack `{}` but is declared in pack `{pack_ref}`",
                        trigger_type.pack
                    ),
                ));
                trigger_type.pack = pack_ref.to_owned();
            }
            if let Some(loaded) = self.compile_trigger_type(trigger_type, &doc, &[]) {
                out.push(loaded);
            }
        }
        out
    }

    fn compile_trigger_type(
        &mut self,
        trigger_type: TriggerType,
        doc: &Document,
        prefix: &[PathSegment],
    ) -> Option<LoadedTriggerType> {
        let compile =
            |field: &str, schema: &Option<Value>, this: &mut Self| -> Result<Option<Schema>, ()> {
                let Some(value) = schema else {
                    return Ok(None);
                };
                match Schema::compile(value.clone()) {
                    Ok(schema) => Ok(Some(schema)),
                    Err(error) => {
                        let mut path = prefix.to_vec();
                        path.push(key(field));
                        this.diagnostics.push(Diagnostic::error(
                            &doc.file,
                            doc.span(&path),
                            display_path(&path),
                            error.to_string(),
                        ));
                        Err(())
                    }
                }
            };
        let parameters_schema = compile("parameters_schema", &trigger_type.parameters_schema, self);
        let payload_schema = compile("payload_schema", &trigger_type.payload_schema, self);
        Some(LoadedTriggerType {
            parameters_schema: parameters_schema.ok()?,
            payload_schema: payload_schema.ok()?,
            trigger_type,
            file: doc.file.clone(),
        })
    }

    fn read_sensors(&mut self, pack_ref: &str) -> (Vec<LoadedSensor>, Vec<LoadedTriggerType>) {
        let mut sensors: Vec<LoadedSensor> = Vec::new();
        let mut trigger_types = Vec::new();
        for file in self.metadata_files("sensors") {
            let Some(doc) = self.parse(&file, DocumentKind::Sensor) else {
                continue;
            };
            let Some(mut sensor) = self.deserialize_in_pack::<SensorType>(&doc, pack_ref) else {
                continue;
            };
            sensor.pack = pack_ref.to_owned();
            if sensors
                .iter()
                .any(|s| s.sensor.class_name == sensor.class_name)
            {
                self.diagnostics.push(Diagnostic::error(
                    &file,
                    doc.span(&[key("class_name")]),
                    "class_name",
                    format!(
                        "sensor `{}` is declared twice in this pack",
                        sensor.sensor_ref()
                    ),
                ));
            }
            if let Some(interval) = sensor.poll_interval
                && interval <= 0.0
            {
                self.diagnostics.push(Diagnostic::error(
                    &file,
                    doc.span(&[key("poll_interval")]),
                    "poll_interval",
                    format!("poll_interval must be positive, got {interval}"),
                ));
            }
            let entry_point = if sensor.runtime.as_deref() == Some(BUILTIN_RUNTIME) {
                // Built into the nerve binary: the entry point names the sensor, not a file.
                if BUILTIN_SENSORS.contains(&sensor.entry_point.as_str()) {
                    Some(std::path::PathBuf::from(&sensor.entry_point))
                } else {
                    self.diagnostics.push(Diagnostic::error(
                        &file,
                        doc.span(&[key("entry_point")]),
                        "entry_point",
                        format!(
                            "`{}` is not a built-in sensor (built-in: {})",
                            sensor.entry_point,
                            BUILTIN_SENSORS.join(", ")
                        ),
                    ));
                    None
                }
            } else {
                self.resolve_entry_point(
                    &doc,
                    "sensors",
                    &sensor.entry_point,
                    &[key("entry_point")],
                )
            };
            for (index, spec) in sensor.trigger_types.iter().enumerate() {
                let prefix = [key("trigger_types"), PathSegment::Index(index)];
                if let Some(loaded) =
                    self.compile_trigger_type(spec.to_trigger_type(pack_ref), &doc, &prefix)
                {
                    trigger_types.push(loaded);
                }
            }
            if let Some(entry_point) = entry_point {
                let revision = crate::hash::files_hash(&[&file, &entry_point]);
                sensors.push(LoadedSensor {
                    sensor,
                    entry_point,
                    file,
                    revision,
                });
            }
        }
        (sensors, trigger_types)
    }
}

impl PackReader {
    fn read_rules(&mut self, pack_ref: &str) -> Vec<LoadedRule> {
        let mut rules: Vec<LoadedRule> = Vec::new();
        for file in self.metadata_files("rules") {
            let Some(loaded) = self.read_rule(&file, pack_ref) else {
                continue;
            };
            self.check_declared_pack(&loaded.source, &loaded.file, &loaded.rule.pack, pack_ref);
            let mut loaded = loaded;
            loaded.rule.pack = pack_ref.to_owned();
            if rules.iter().any(|r| r.rule.name == loaded.rule.name) {
                self.diagnostics.push(Diagnostic::error(
                    &file,
                    loaded.source.value_span(&[key("name")]),
                    "name",
                    format!(
                        "rule `{}` is declared twice in this pack",
                        loaded.rule.rule_ref()
                    ),
                ));
                continue;
            }
            rules.push(loaded);
        }
        rules
    }

    /// Parses, schema-checks and compiles one rule file.
    pub(super) fn read_rule(&mut self, file: &Path, pack_ref: &str) -> Option<LoadedRule> {
        let doc = self.parse(file, DocumentKind::Rule)?;
        self.finish_rule(doc, pack_ref)
    }

    /// A rule given as text (API), named `file` in diagnostics.
    pub(super) fn read_rule_text(
        &mut self,
        file: &Path,
        text: &str,
        pack_ref: &str,
    ) -> Option<LoadedRule> {
        let doc = self.parse_text(file, text, DocumentKind::Rule)?;
        self.finish_rule(doc, pack_ref)
    }

    fn finish_rule(&mut self, doc: Document, pack_ref: &str) -> Option<LoadedRule> {
        let file = doc.file.clone();
        let file = file.as_path();
        let rule = self.deserialize_in_pack::<Rule>(&doc, pack_ref)?;
        // On problems the rule is still returned, so its references are checked too; the
        // recorded errors keep the pack from loading.
        if let Err(problems) = nerve_rules::compile_rule(rule.clone()) {
            for problem in problems {
                let path: Vec<PathSegment> = problem.path.iter().map(|s| key(s)).collect();
                self.diagnostics.push(Diagnostic::error(
                    file,
                    doc.span(&path),
                    display_path(&path),
                    problem.message,
                ));
            }
        }
        Some(LoadedRule {
            rule,
            file: file.to_path_buf(),
            source: Arc::new(doc.doc),
        })
    }

    fn read_policies(&mut self, pack_ref: &str) -> Vec<LoadedPolicy> {
        let mut policies: Vec<LoadedPolicy> = Vec::new();
        for file in self.metadata_files("policies") {
            let Some(doc) = self.parse(&file, DocumentKind::Policy) else {
                continue;
            };
            let Some(mut policy) = self.deserialize_in_pack::<Policy>(&doc, pack_ref) else {
                continue;
            };
            self.check_declared_pack(&doc.doc, &doc.file, &policy.pack, pack_ref);
            policy.pack = pack_ref.to_owned();
            let Some(policy_type) = PolicyType::from_name(&policy.policy_type) else {
                let names = PolicyType::ALL.map(PolicyType::name);
                let hint = did_you_mean(&policy.policy_type, names)
                    .map(|s| format!("did you mean `{s}`?"));
                self.diagnostics.push(with_hint(
                    Diagnostic::error(
                        &file,
                        doc.span(&[key("policy_type")]),
                        "policy_type",
                        format!(
                            "unknown policy type `{}` (supported: {})",
                            policy.policy_type,
                            names.join(", ")
                        ),
                    ),
                    hint,
                ));
                continue;
            };
            let schema = match Schema::compile(policy_type.parameters_schema()) {
                Ok(schema) => schema,
                Err(error) => {
                    self.error_whole(&file, error.to_string());
                    continue;
                }
            };
            if let Err(violations) = schema.validate(&Value::Object(policy.parameters.clone())) {
                for violation in violations {
                    let mut path = vec![key("parameters")];
                    path.extend(pointer_segments(&violation.path));
                    self.diagnostics.push(Diagnostic::error(
                        &file,
                        doc.span(&path),
                        display_path(&path),
                        format!(
                            "invalid `{}` parameters: {}",
                            policy_type.name(),
                            violation.message
                        ),
                    ));
                }
            }
            if policies.iter().any(|p| p.policy.name == policy.name) {
                self.diagnostics.push(Diagnostic::error(
                    &file,
                    doc.span(&[key("name")]),
                    "name",
                    format!(
                        "policy `{}` is declared twice in this pack",
                        policy.policy_ref()
                    ),
                ));
                continue;
            }
            policies.push(LoadedPolicy {
                policy,
                file,
                source: Arc::new(doc.doc),
            });
        }
        policies
    }

    fn read_config_schema(&mut self) -> Option<ConfigSchema> {
        let file = self.dir.join("config.schema.yaml");
        if !file.is_file() {
            return None;
        }
        let doc = self.parse(&file, DocumentKind::ConfigSchema)?;
        if doc.doc.value.is_null() {
            return None;
        }
        let parameters: ParamMap = self.deserialize(&doc)?;
        let mut schema_value = parameters_schema(&parameters);
        // Pack configs may carry keys the schema does not describe (StackStorm allows them).
        schema_value["additionalProperties"] = Value::Bool(true);
        match Schema::compile(schema_value) {
            Ok(schema) => Some(ConfigSchema { parameters, schema }),
            Err(error) => {
                self.error_whole(
                    &file,
                    format!("config schema is not a valid JSON Schema: {error}"),
                );
                None
            }
        }
    }

    pub(super) fn check_declared_pack(
        &mut self,
        source: &YamlDocument,
        file: &Path,
        declared: &str,
        pack_ref: &str,
    ) {
        if source.value.get("pack").is_some() && declared != pack_ref {
            self.diagnostics.push(Diagnostic::warning(
                file,
                source.value_span(&[key("pack")]),
                "pack",
                format!("declares pack `{declared}` but lives in pack `{pack_ref}`; `{pack_ref}` is used"),
            ));
        }
    }

    fn check_unique_trigger_types(&mut self, trigger_types: &[LoadedTriggerType]) {
        let mut seen: HashMap<String, &Path> = HashMap::new();
        for loaded in trigger_types {
            let type_ref = loaded.trigger_type.type_ref();
            if let Some(first) = seen.insert(type_ref.clone(), &loaded.file) {
                let message = format!(
                    "trigger type `{type_ref}` is also declared in `{}`",
                    first.display()
                );
                self.diagnostics.push(Diagnostic::error(
                    &loaded.file,
                    Span { line: 1, col: 1 },
                    "",
                    message,
                ));
            }
        }
    }

    /// References from rules and policies into this same pack are checked while loading it.
    fn check_pack_local_references(
        &mut self,
        pack_ref: &str,
        actions: &[LoadedAction],
        trigger_types: &[LoadedTriggerType],
        rules: &[LoadedRule],
        policies: &[LoadedPolicy],
    ) {
        let catalog = Catalog::single(pack_ref, actions, trigger_types);
        let diagnostics = catalog.check_references(pack_ref, rules, policies, RefScope::SamePack);
        self.diagnostics.extend(diagnostics);
    }
}
