"""Training of the describer's adapters (`distill`) and of the heads (`head_trainer`, `clip_trainer`), with
their inputs (`rows`, `inputs`, `features`, `datasets`) and each method's `agiqa train-head` run
(`m3_train_head`, `clip_train_head`: the methods' `train_entry`)."""
