"""The paper's judge-era benchmarks: Arena-Hard v1 (pairwise against a baseline), RewardBench (the model judges
chosen vs rejected), EQBench3 and CreativeWriting3 (rubric scores). Each module reads the benchmark's public data
format and builds items; `judged` holds the two judge protocols they share."""
