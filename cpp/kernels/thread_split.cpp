// The timed thread split (see thread_split.hpp).
#include <algorithm>
#include <deeplinear/thread_split.hpp>

#include "tuning.hpp"

namespace deeplinear {

bool SplitChoice::next(Index n) {
    if (n != n_) {  // a new size: probe afresh
        n_ = n;
        phase_ = Phase::alone;
        count_ = 0;
        time_alone_ = time_split_ = time_settle_ = 0.0;
        stretch_ = tuning::kSplitShortest;
    }
    return phase_ == Phase::split || (phase_ == Phase::chosen && split_);
}

void SplitChoice::done(double seconds) {
    using namespace tuning;
    ++count_;
    switch (phase_) {
        case Phase::alone:
            time_alone_ += seconds;
            if (count_ == kSplitProbe) start(Phase::split);
            break;
        case Phase::split: {
            // The first kSplitSettle split products wake the other threads (after a stretch on
            // one thread, they sleep): timed apart, and only against all of the budget.
            const bool settling = count_ <= kSplitSettle;
            (settling ? time_settle_ : time_split_) += seconds;
            const double budget =
                time_alone_ * static_cast<double>(kSplitProbe - kSplitSettle) / static_cast<double>(kSplitProbe);
            const bool lost = settling ? time_settle_ > time_alone_ : time_split_ > budget;
            if (lost || count_ == kSplitProbe) {
                split_ = !lost;
                stretch_ = split_ ? kSplitShortest : std::min(2 * stretch_, kSplitLongest);
                start(Phase::chosen);
            }
            break;
        }
        case Phase::chosen:
            if (count_ == stretch_) {
                time_alone_ = time_split_ = time_settle_ = 0.0;
                start(Phase::alone);
            }
            break;
    }
}

void SplitChoice::start(Phase phase) {
    phase_ = phase;
    count_ = 0;
}

}  // namespace deeplinear
