"""One module per kind of workflow job that trains or searches: experiments, sweeps, searches, pictures."""
