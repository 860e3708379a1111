"""The main job: a generated roster driven through a simulated convalescence cycle."""
