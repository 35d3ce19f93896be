//! Error types. Both carry a byte span into the source they came from, so callers can
//! underline the exact place in the YAML string.

use std::ops::Range;

/// A template or expression could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ParseError {
    pub message: String,
    /// Byte range in the source given to `parse`.
    pub span: Range<usize>,
    pub help: Option<String>,
}

impl ParseError {
    pub(crate) fn new(message: impl Into<String>, span: Range<usize>) -> Self {
        ParseError {
            message: message.into(),
            span,
            help: None,
        }
    }

    pub(crate) fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }
}

/// Said in place of the details of an error in an expression that reads a secret.
pub const HIDDEN_VALUES: &str = "(values hidden: the expression reads a secret)";

/// What kind of failure an [`EvalError`] is. `Undefined` errors are the ones that
/// `default(...)` / `coalesce(...)` tolerate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EvalErrorKind {
    /// A variable, step, field or index that does not exist (or an empty collection
    /// where an element was required).
    Undefined,
    /// An operator or function got a value of the wrong type.
    Type,
    /// The types were right but the value was not usable (division by zero, bad date...).
    Invalid,
}

/// Evaluating a parsed template or expression failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct EvalError {
    pub message: String,
    /// Byte range in the template/expression source.
    pub span: Range<usize>,
    pub help: Option<String>,
    pub kind: EvalErrorKind,
}

impl EvalError {
    pub(crate) fn new(kind: EvalErrorKind, message: impl Into<String>, span: Range<usize>) -> Self {
        EvalError {
            message: message.into(),
            span,
            help: None,
            kind,
        }
    }

    pub(crate) fn undefined(message: impl Into<String>, span: Range<usize>) -> Self {
        Self::new(EvalErrorKind::Undefined, message, span)
    }

    pub(crate) fn type_error(message: impl Into<String>, span: Range<usize>) -> Self {
        Self::new(EvalErrorKind::Type, message, span)
    }

    pub(crate) fn invalid(message: impl Into<String>, span: Range<usize>) -> Self {
        Self::new(EvalErrorKind::Invalid, message, span)
    }

    pub(crate) fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    /// The same failure without any value in its text: for an expression that reads a secret,
    /// whose message could quote the secret or a form computed from it. Kind and span stay.
    pub(crate) fn hide_values(self) -> Self {
        let what = match self.kind {
            EvalErrorKind::Undefined => "a value or field that does not exist was read",
            EvalErrorKind::Type => "an operator or function got a value of the wrong type",
            EvalErrorKind::Invalid => "an operator or function got a value it cannot use",
        };
        EvalError {
            message: format!("{what} {HIDDEN_VALUES}"),
            span: self.span,
            help: None,
            kind: self.kind,
        }
    }
}
