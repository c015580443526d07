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
        time_alone_ = time_split_ = time_settle_ = time_chosen_ = 0.0;
        stretch_ = tuning::kSplitShortest;
        probe_ = tuning::kSplitProbe;
    }
    return phase_ == Phase::split || (phase_ == Phase::chosen && split_);
}

void SplitChoice::done(double seconds) {
    using namespace tuning;
    ++count_;
    switch (phase_) {
        case Phase::alone:
            time_alone_ += seconds;
            // kSplitProbe products, or fewer (at least kSplitProbeMin) once they have taken
            // kSplitProbeSeconds: a probe of large products on one thread costs little time
            if (count_ == kSplitProbe || (count_ >= kSplitProbeMin && time_alone_ >= kSplitProbeSeconds)) {
                probe_ = count_;
                start(Phase::split);
            }
            break;
        case Phase::split: {
            // The first products split wake the other threads (after a stretch on one thread,
            // they sleep): kSplitSettle of a full probe, at least one, timed apart and only
            // against all of the probe on one thread. The others are held to the rate of that
            // probe. The split probe lasts as many products as that one, and a short one (large
            // products) goes on to kSplitProbe products or kSplitJudgeSeconds: a thread that
            // wakes on a busy core runs at once for a while (the scheduler favours it) before
            // it has to share.
            const std::int64_t settle = std::max<std::int64_t>(1, kSplitSettle * probe_ / kSplitProbe);
            const bool settling = count_ <= settle;
            (settling ? time_settle_ : time_split_) += seconds;
            const double rate = time_alone_ / static_cast<double>(probe_);
            const bool hopeless =
                settling ? time_settle_ > time_alone_ : time_split_ > rate * static_cast<double>(kSplitProbe - settle);
            const bool judged =
                count_ >= probe_ && (count_ >= kSplitProbe || time_settle_ + time_split_ >= kSplitJudgeSeconds);
            if (hopeless || judged) {
                split_ = !hopeless && time_split_ <= rate * static_cast<double>(count_ - settle);
                stretch_ = split_ ? kSplitShortest : std::min(2 * stretch_, kSplitLongest);
                start(Phase::chosen);
            }
            break;
        }
        case Phase::chosen: {
            // stretch_ products, or fewer once they have taken kSplitStretchSeconds (products of
            // large n); after a lost split probe, that time in proportion to the stretch (from
            // 1/32 of it): a split that lost to a passing disturbance is soon tried again, a
            // busy core ever more rarely
            time_chosen_ += seconds;
            const double longest =
                split_ ? kSplitStretchSeconds
                       : kSplitStretchSeconds * static_cast<double>(stretch_) / static_cast<double>(kSplitLongest);
            if (count_ == stretch_ || time_chosen_ >= longest) {
                time_alone_ = time_split_ = time_settle_ = time_chosen_ = 0.0;
                start(Phase::alone);
            }
            break;
        }
    }
}

void SplitChoice::start(Phase phase) {
    phase_ = phase;
    count_ = 0;
}

}  // namespace deeplinear
