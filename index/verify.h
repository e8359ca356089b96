// VerifyIndex: checks a decision index against the LMDB view it claims to
// mirror, record by record: every resource's existence and parent, every
// subject's existence, every binding and restriction, and that the index
// holds nothing more. `portcullis verify` runs it on an index built from
// the store, and the tests on indexes kept up to date by change sets.
//
// Thread safety: as IndexView (one thread; holds the index's lock shared
// while it runs).
//
// Invariants: returns one line per disagreement (empty: they agree), or a
// single line saying why the comparison could not be made (the index is not
// ready or not at the view's revision, or the view failed).
#ifndef PORTCULLIS_INDEX_VERIFY_H_
#define PORTCULLIS_INDEX_VERIFY_H_

#include <string>
#include <vector>

#include "index/decision_index.h"
#include "storage/store.h"

namespace portcullis::index {

std::vector<std::string> VerifyIndex(const DecisionIndex& index,
                                     storage::ReadView* view);

}  // namespace portcullis::index

#endif  // PORTCULLIS_INDEX_VERIFY_H_
