//! A CloudFormation template under construction, and the intrinsic functions the resource
//! modules use.
//!
//! Key order is insertion order (serde_json `preserve_order`), and nothing here reads a clock or
//! the environment, so the same configuration always renders the same bytes.

use serde_json::{Map, Value, json};

/// The sections of a template, filled by the resource modules.
#[derive(Debug, Default)]
pub(crate) struct Template {
    parameters: Map<String, Value>,
    rules: Map<String, Value>,
    conditions: Map<String, Value>,
    resources: Map<String, Value>,
    outputs: Map<String, Value>,
}

impl Template {
    /// Adds a parameter.
    pub(crate) fn parameter(&mut self, name: &str, body: Value) {
        self.parameters.insert(name.to_owned(), body);
    }

    /// Adds a rule (checked by CloudFormation before anything is created).
    pub(crate) fn rule(&mut self, name: &str, body: Value) {
        self.rules.insert(name.to_owned(), body);
    }

    /// Adds a condition.
    pub(crate) fn condition(&mut self, name: &str, body: Value) {
        self.conditions.insert(name.to_owned(), body);
    }

    /// Adds a resource.
    pub(crate) fn resource(&mut self, name: &str, body: Value) {
        self.resources.insert(name.to_owned(), body);
    }

    /// Adds an output.
    pub(crate) fn output(&mut self, name: &str, description: &str, value: Value) {
        self.outputs.insert(name.to_owned(), json!({"Description": description, "Value": value}));
    }

    /// The template JSON: empty sections are left out.
    pub(crate) fn into_json(self, description: &str) -> Value {
        let mut t = Map::new();
        t.insert("AWSTemplateFormatVersion".into(), json!("2010-09-09"));
        t.insert("Description".into(), json!(description));
        for (name, section) in [
            ("Parameters", self.parameters),
            ("Rules", self.rules),
            ("Conditions", self.conditions),
            ("Resources", self.resources),
            ("Outputs", self.outputs),
        ] {
            if !section.is_empty() {
                t.insert(name.into(), Value::Object(section));
            }
        }
        Value::Object(t)
    }
}

/// `{"Ref": name}`.
pub(crate) fn r(name: &str) -> Value {
    json!({"Ref": name})
}

/// `{"Fn::GetAtt": [resource, attribute]}`.
pub(crate) fn att(resource: &str, attribute: &str) -> Value {
    json!({"Fn::GetAtt": [resource, attribute]})
}

/// `{"Fn::Sub": text}`.
pub(crate) fn sub(text: &str) -> Value {
    json!({"Fn::Sub": text})
}

/// Escapes literal `${…}` for `Fn::Sub` (`${!…}`).
pub(crate) fn sub_literal(text: &str) -> String {
    text.replace("${", "${!")
}
