"""What the methods share and the run machinery relies on; none of these modules is a method, and
none imports one. No Django.

    contract       what a method receives and returns, and the module attributes it defines
    policies       policy models that sample responses and score one-token answers
    population     preference-population data, frozen-model features, checkpoints (PAL, VPL)
    splits         held-out examples that share no prompt with training ones
    trainer_hooks  a transformers TrainerCallback that reports to a run's hooks
"""
