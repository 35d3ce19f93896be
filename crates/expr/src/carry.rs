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
];

/// The call nodes, and the path nodes that read into a computed value
/// (`from_json(secrets.cfg).key`, `split(secrets.tok, '-')[1]`), whose value is made of what
/// a node for which `source` holds reads, other than `roots` (the expressions' own values); in
/// order, for a binary search.
pub(crate) fn handed_nodes(code: &Code, roots: &[u32], source: &dyn Fn(u32) -> bool) -> Vec<u32> {
    let carry = carried(code, source);
    let carries = |i: u32| carry[i as usize];
    (0..code.nodes().len() as u32)
        .filter(|i| !roots.contains(i))
        .filter(|&i| match code.node(i).kind {
            Kind::Call { .. } => carries(i),
            Kind::Path { segments } => {
                let (base, _) = code.path(i, segments);
                !matches!(code.node(base).kind, Kind::Root(_)) && carries(base)
            }
            _ => false,
        })
        .collect()
}

/// For each node, whether its value may be made of what a `source` node reads: a read of
/// one, or what concatenation, arithmetic, a choice, a list or a call other than
/// [`DESCRIBES`] makes of such values. A condition or an index computed from one only
/// chooses. One pass: nodes come after their children.
fn carried(code: &Code, source: &dyn Fn(u32) -> bool) -> Vec<bool> {
    let mut carry = vec![false; code.nodes().len()];
    for i in 0..code.nodes().len() as u32 {
        let at = |n: u32| carry.get(n as usize).copied().unwrap_or(false);
        let any_linked = || code.linked(i).any(at);
        let value = match code.node(i).kind {
            Kind::Path { segments } => {
                let (base, _) = code.path(i, segments);
                match code.node(base).kind {
                    Kind::Root(_) => source(i),
                    _ => at(base),
                }
            }
            Kind::Call { function, .. } => {
                !DESCRIBES.contains(&FUNCTIONS[usize::from(function)].name) && any_linked()
            }
            Kind::Array(_) | Kind::Object(_) | Kind::Chain(_) => any_linked(),
            Kind::Pair(_, left) => at(left) || at(i - 1),
            Kind::Negate(operand) => at(operand),
            Kind::Conditional(_) => {
                let (then, otherwise) = code.branches(i);
                at(then) || at(otherwise)
            }
            _ => false,
        };
        carry[i as usize] = value;
    }
    carry
}
