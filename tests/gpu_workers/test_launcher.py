from gpu_workers.launcher import _split_report

# torchrun.log of a run whose rank 1 aborted while tearing down its gloo group (before ranks waited
# for each other at the end), shortened.
ABORTED = """\
*****************************************
Setting OMP_NUM_THREADS environment variable for each process to be 1 in default
*****************************************
terminate called without an active exception
W1130 17:18:04.022000 8613 torch/distributed/elastic/multiprocessing/api.py:1028] Sending process 8616 closing signal SIGTERM
E1130 17:18:04.039000 8613 torch/distributed/elastic/multiprocessing/api.py:1002] failed (exitcode: -6) local_rank: 1
Traceback (most recent call last):
  File "<frozen runpy>", line 198, in _run_module_as_main
Root Cause (first observed failure):
  rank      : 1 (local_rank: 1)
  exitcode  : -6 (pid: 8617)  (SIGABRT)
"""


def test_a_processs_last_words_are_told_apart_from_torchruns_report():
    printed, report = _split_report(ABORTED)
    assert printed[-1] == "terminate called without an active exception"
    assert "Sending process 8616" in report[0] and report[-1].strip().startswith("exitcode  : -6")


def test_a_log_without_torchruns_report_is_all_the_processes_own():
    printed, report = _split_report("Traceback (most recent call last):\nValueError: no\n")
    assert printed == ["Traceback (most recent call last):", "ValueError: no"] and report == []
