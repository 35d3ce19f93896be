//! What a parsed template keeps on the heap: a workflow holds one per expression for as
//! long as it is loaded (10,000 of them for a 10,000-step workflow), so these are counted
//! with a counting allocator: blocks and bytes alive once parsing is over.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::mem::size_of;
use weft_expr::{Expr, Packing, Template};

/// Counts the blocks and bytes this thread holds (each test runs on its own thread).
struct Counting;

thread_local! {
    static BLOCKS: Cell<isize> = const { Cell::new(0) };
    static BYTES: Cell<isize> = const { Cell::new(0) };
}

fn count(blocks: isize, bytes: isize) {
    // `try_with`: the allocator is also called while the thread's locals are torn down.
    let _ = BLOCKS.try_with(|b| b.set(b.get() + blocks));
    let _ = BYTES.try_with(|b| b.set(b.get() + bytes));
}

// A global allocator is an unsafe trait; this one only counts and hands every call to `System`.
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count(1, layout.size() as isize);
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        count(-1, -(layout.size() as isize));
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count(0, new_size as isize - layout.size() as isize);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Blocks and bytes that `make`'s result holds on the heap (beside itself).
fn held<T>(make: impl Fn() -> T) -> (isize, isize) {
    // Once first: the constants shared by every expression are made on first use.
    drop(make());
    let before = (BLOCKS.with(Cell::get), BYTES.with(Cell::get));
    let kept = make();
    let after = (BLOCKS.with(Cell::get), BYTES.with(Cell::get));
    drop(kept);
    (after.0 - before.0, after.1 - before.1)
}

/// The store a parsed code holds alone: its header and the reference counts of its `Arc`.
const STORE_BYTES: isize = 16 + 48;

#[test]
fn a_step_reading_the_previous_one_is_three_blocks_alone() {
    let template = || Template::parse("${{ steps.s0.output.n + 1 }}").unwrap();
    let (blocks, bytes) = held(template);
    // Its store, its text (28 bytes) and 7 nodes of 8: the root, three fields, the path, `1`
    // and `+`. As a tree of boxes: 9 blocks, about 450 bytes.
    assert!(blocks <= 3, "{blocks} blocks");
    assert!(bytes <= STORE_BYTES + 28 + 7 * 8, "{bytes} bytes");
}

#[test]
fn packed_a_step_reading_the_previous_one_is_its_text_and_nodes() {
    const COUNT: isize = 1000;
    let packed = || {
        let mut templates: Vec<Template> = (0..COUNT)
            .map(|i| Template::parse(&format!("${{{{ steps.s{i}.output.n + 1 }}}}")).unwrap())
            .collect();
        let mut packing = Packing::default();
        templates.iter_mut().for_each(|t| packing.template(t));
        packing.finish();
        templates
    };
    let (blocks, bytes) = held(packed);
    // The list, and one store of three blocks for them all.
    assert!(blocks <= 4, "{blocks} blocks");
    let list = COUNT * size_of::<Template>() as isize;
    let text = (0..COUNT)
        .map(|i| 28 + i.to_string().len() as isize)
        .sum::<isize>();
    assert!(
        bytes <= list + STORE_BYTES + text + COUNT * 7 * 8,
        "{} bytes a template beside the list",
        (bytes - list) / COUNT
    );
}

#[test]
fn a_template_is_five_words() {
    // The engine boxes each template of a step's `with:`: the box is one of its blocks.
    assert!(size_of::<Template>() <= 40, "{}", size_of::<Template>());
}

#[test]
fn a_lone_path_is_three_small_blocks() {
    let (blocks, bytes) = held(|| Template::parse("${{ inputs.x }}").unwrap());
    assert!(blocks <= 3, "{blocks} blocks");
    assert!(bytes <= STORE_BYTES + 15 + 3 * 8, "{bytes} bytes");
}

#[test]
fn plain_text_is_its_text_alone() {
    let (blocks, bytes) = held(|| Template::parse("just some text").unwrap());
    assert_eq!((blocks, bytes), (2, STORE_BYTES + 14));
}

#[test]
fn a_condition_is_three_blocks() {
    let (blocks, _) = held(|| Expr::parse("steps.check.output.ok && inputs.go").unwrap());
    assert!(blocks <= 3, "{blocks} blocks");
}
