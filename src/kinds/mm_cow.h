// Copy-on-write sharing between a parent task and its children.
//
// Dump (mm_dump.cpp): a child's private anonymous page that is the very same
// physical page as its parent's at the same address (pagemap PFN) is listed
// in the child's PagesIndex.parent_runs instead of being stored again.
//
// Restore: the content of such pages is in an ancestor's page store (the
// parent's, or its parent's when the parent shares it too). Where the
// restore cannot let the child inherit the page, it copies it from there
// (for_each_parent_piece); the child's content is right either way.
#pragma once
#include <cstdint>
#include <functional>
#include <span>

#include "base/result.h"
#include "image/pages.h"

namespace amber::kinds {

// Calls fn(store, vaddr, len, file_offset) for every stretch of `own`'s
// parent_runs with the store of the nearest ancestor that holds it
// (`ancestors`: the parent's store first, then its parent's, ...). A page
// no ancestor holds is a corrupt image (Exit::BadInput). With a no-op fn it
// checks an image before anything is created.
using ParentPieceFn =
    std::function<Status(const image::PageReader& store, uint64_t vaddr, uint64_t len, uint64_t file_offset)>;
Status for_each_parent_piece(const img::PagesIndex& own, std::span<const image::PageReader* const> ancestors,
                             const ParentPieceFn& fn);

}  // namespace amber::kinds
