// Whether a product's rows are shared among the threads, chosen by timing both ways as the run
// goes (SplitPolicy::timed). Splitting gains while the other cores are free; while another
// process holds one, each split product waits for that core's turn and runs several times
// slower than on one thread (on a shared machine either lasts for seconds). So: a probe of
// kSplitProbe products on one thread (fewer for large products: those that fit in
// kSplitProbeSeconds, at least kSplitProbeMin); then as many split, or for large products until
// kSplitProbe or kSplitJudgeSeconds, cut short once they cannot win; then the faster way for a
// stretch of products that doubles, up to kSplitLongest products, for as long as the split keeps
// losing, so that probing a busy core costs little (for large products also at most
// kSplitStretchSeconds, from 1/32 of it after the first loss). The choice never changes a result.
// The clock is the caller's (done() takes the seconds a product took), so tests drive it with
// made-up times. Constants: cpp/kernels/tuning.hpp.
#pragma once

#include <cstdint>

#include "common.hpp"

namespace deeplinear {

class SplitChoice {
public:
    // Whether the next product (n×n) is split; a new n starts a new probe.
    bool next(Index n);
    // The time in seconds that the product announced by next() took.
    void done(double seconds);

private:
    enum class Phase { alone, split, chosen };
    void start(Phase phase);

    Index n_ = -1;
    Phase phase_ = Phase::alone;
    std::int64_t count_ = 0, stretch_ = 0, probe_ = 0;
    bool split_ = false;
    double time_alone_ = 0.0, time_split_ = 0.0, time_settle_ = 0.0, time_chosen_ = 0.0;
};

}  // namespace deeplinear
