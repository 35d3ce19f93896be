//! Which nodes of an expression compute a value made of a secret's content (taint on the way
//! to an expression's value): what a template hands out besides the expression's value, as a
//! server may echo one of them alone (see `Template::render_tainted`).

use crate::ast::{Code, Kind};
use crate::functions::FUNCTIONS;

/// Functions whose value describes their arguments instead of being made of them: what they
/// compute from a secret (`string`, `13`, `true`) is no form of it, and masking it as a
/// secret would mask that word or number everywhere.
const DESCRIBES: &[&str] = &[
    "len",
    "contains",
    "starts_with",
    "ends_with",
    "type_of",
    "is_null",
    "has",
    "range",
    "now",
    "date_diff",
];

/// The call nodes, and the path nodes that read into a computed value
/// (`from_json(secrets.cfg).key`, `split(secrets.tok, '-')[1]`), whose value is made of what
/// a node for which `source` holds reads, other than `roots` (the expressions' own values).
pub(crate) fn handed_nodes(code: &Code, roots: &[u32], source: &dyn Fn(u32) -> bool) -> Vec<u32> {
    (0..code.nodes.len() as u32)
        .filter(|i| !roots.contains(i))
        .filter(|&i| match code.node(i).kind {
            Kind::Call { .. } => carries(code, i, source),
            Kind::Path { segments } => {
                let (base, _) = code.path(i, segments);
                !matches!(code.node(base).kind, Kind::Root(_)) && carries(code, base, source)
            }
            _ => false,
        })
        .collect()
}

/// Whether node `i`'s value may be made of what a `source` node reads: a read of one, or what
/// concatenation, arithmetic, a choice, a list or a call other than [`DESCRIBES`] makes of
/// such values. A condition or an index computed from one only chooses.
fn carries(code: &Code, i: u32, source: &dyn Fn(u32) -> bool) -> bool {
    let any_linked = || code.linked(i).any(|child| carries(code, child, source));
    match code.node(i).kind {
        Kind::Root(_) => source(i),
        Kind::Path { segments } => {
            let (base, _) = code.path(i, segments);
            match code.node(base).kind {
                Kind::Root(_) => source(i),
                _ => carries(code, base, source),
            }
        }
        Kind::Call { function, .. } => {
            !DESCRIBES.contains(&FUNCTIONS[usize::from(function)].name) && any_linked()
        }
        Kind::Array(_) | Kind::Object(_) | Kind::Chain(_) => any_linked(),
        Kind::Pair(_, left) => carries(code, left, source) || carries(code, i - 1, source),
        Kind::Negate(operand) => carries(code, operand, source),
        Kind::Conditional(_) => {
            let (then, otherwise) = code.branches(i);
            carries(code, then, source) || carries(code, otherwise, source)
        }
        _ => false,
    }
}
