// Engine (engine.hpp) around any stepper of loop.hpp's interface (begin / evaluate / advance /
// revert / finish / diagnose): private to the engine sources.
#pragma once

#include <deeplinear/engine.hpp>
#include <deeplinear/execution.hpp>
#include <deeplinear/threads.hpp>

#include <utility>

namespace deeplinear {

template <class T, class Stepper>
class StepperEngine : public Engine<T> {
public:
    using Shape = typename Engine<T>::Shape;

    template <class... Args>
    explicit StepperEngine(const ExecutionContext& context, Shape shape, Args&&... args)
        : stepper_(std::forward<Args>(args)...), context_(context), shape_(shape) {}

    Shape shape() const override { return shape_; }

    void run(const LoopOptions& options, History& history, const Interrupt& interrupted, LoopResult& result) override {
        EigenOnOneThread scope;
        stepper_.begin();
        run_loop(stepper_, options, history, interrupted, result);
    }

    double loss() override {
        EigenOnOneThread scope;
        stepper_.begin();
        return static_cast<double>(stepper_.evaluate());
    }

    void set_lr(double lr) override { stepper_.set_lr(static_cast<T>(lr)); }

    void diagnose(double* out) override {
        EigenOnOneThread scope;
        stepper_.begin();
        stepper_.diagnose(out);
    }

protected:
    Stepper stepper_;
    ExecutionContext context_;
    Shape shape_;
};

}  // namespace deeplinear
