//! The `${{ ... }}` expression language of weft workflows.
//!
//! A [`Template`] is a YAML string that may embed expressions; an [`Expr`] is a bare
//! expression such as an `if:` condition. Both are parsed once (with precise, spanned
//! [`ParseError`]s) and evaluated many times against a [`Scope`]. Reading anything that
//! does not exist is an [`EvalError`], never an empty string; `default(...)` and
//! `coalesce(...)` are the sanctioned way to tolerate a missing value.
//!
//! The language reference is `docs/expressions.md` at the repository root.

mod ast;
mod carry;
mod error;
mod eval;
mod fold;
mod functions;
mod lexer;
mod limits;
mod ops;
mod parser;
mod refs;
mod scope;
mod suggest;
mod template;
mod value;

pub use error::{EvalError, EvalErrorKind, ParseError, HIDDEN_VALUES};
pub use functions::{FunctionInfo, FUNCTIONS};
pub use lexer::{is_invisible, misleading_char, MAX_TOKENS};
pub use limits::{MAX_RESULT_TEXT, MAX_RESULT_VALUES};
pub use parser::{MAX_NESTING, MAX_TREE_DEPTH};
pub use refs::{Reference, ReferenceUse, Segment};
pub use scope::{MapScope, Scope, StepView, KNOWN_ROOTS};
pub use serde_json::Value;
pub use template::{Checks, Expr, Packing, Taint, Template};
pub use value::{a_type, truthy};
