"""slack_report: one Slack message per Chainer training, kept up to date.

Copy this file next to your training script, then::

    import os
    from slack_report import SlackReport

    trainer.extend(extensions.LogReport())
    trainer.extend(SlackReport(os.environ.get('SLACK_ACCESS_TOKEN'),
                               os.environ.get('SLACK_CHANNEL_ID'),
                               ['epoch', 'main/loss', 'validation/main/loss',
                                'elapsed_time'],
                               finish_mentions='@U0123ABCD'),
                   trigger=(1, 'epoch'))
    trainer.run()

The message shows the table PrintReport would print, the run's status and,
at the end, a mention posted as a thread reply so that it notifies. Slack
being slow, down or misconfigured ends as a warning, never an exception.

Two threads, and what passes between them::

    training thread                         sender thread ("slack_report")
    ---------------                         ------------------------------
    SlackReport: trainer events   --_State-->  _Worker keeps the newest;
    _SignalGuard: a scheduler's                _Sender brings Slack to it:
      signal ends the run (its                 _Posted (the message),
      own handler runs after)                  _Switch, _Alarms, _Control,
                                               _Sweep, _Finale at the end;
    acts on a stop or snapshot  <--_Learned--  publishes what it learned
    (one value, read as a whole)               (ts, people, a command);
                                               _SlackClient alone calls Slack

Sections, each a banner: what a job tells of itself (schedulers), options,
the extension, the message, Slack (client, errors, a posted message), then
one per feature the sender drives (sweeps, the silence reply, commands,
alerts, people named, the picture), sending, and the command line. Words
with a meaning of their own here:

- report: the run's one message; state: what one report hands on.
- card: a run's facts as message metadata, for its sweep to read back.
- silence reply: a reply scheduled in Slack ahead of time that Slack posts
  if the run stops reporting (a dead man's switch); ``due``: when.
- sweep: the runs of one group (a job array); anchor: its first message,
  in whose thread the runs meet; entry: a run's card there, posted before
  its report; result: its final card there; summary: how the runs ended;
  closing: the summary (or a notice) scheduled for Slack to post if no
  live run can.
- finale: the end's steps, each done once however often the end retries.

MIT License

Copyright (c) 2026 the slack_report authors

Permission is hereby granted, free of charge, to any person obtaining a copy
of this software and associated documentation files (the "Software"), to deal
in the Software without restriction, including without limitation the rights
to use, copy, modify, merge, publish, distribute, sublicense, and/or sell
copies of the Software, and to permit persons to whom the Software is
furnished to do so, subject to the following conditions:

The above copyright notice and this permission notice shall be included in
all copies or substantial portions of the Software.

THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR
IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY,
FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE
AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER
LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM,
OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE
SOFTWARE.
"""

import argparse
import bisect
import collections
import collections.abc
import contextlib
import datetime
import difflib
import http.client
import importlib.util
import ipaddress
import json
import math
import os
import random
import re
import shlex
import signal
import socket
import ssl
import string
import struct
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import urllib.error
import urllib.parse
import urllib.request
import warnings
import zlib


def _without_chainer(error):
    """What to do when Chainer cannot be imported (``error``), on this
    Python: only SlackReport needs it, not the command line."""
    if sys.version_info >= (3, 12):
        return (
            'slack_report needs Chainer, which runs on Python 3.6 to 3.11 '
            'only (3.12 dropped the numpy.distutils it imports), and this is '
            'Python %d.%d. Train in a Python 3.11 environment: python3.11 -m '
            'venv, "module load python/3.11" on a cluster, or "conda create '
            '-n chainer python=3.11"; then install Chainer there as the '
            'README says. Original error: %s'
            % (sys.version_info[:2] + (error,)))
    if importlib.util.find_spec('chainer') is None:
        return ('slack_report needs Chainer: pip install "chainer==7.8.1" '
                '"numpy<2" (on Python 3.11, run "pip install wheel" first '
                'and add --no-build-isolation). Original error: %s' % error)
    return ('Chainer is installed but cannot be imported on Python %d.%d: '
            'Chainer 7.8.1 runs on Python 3.6 to 3.11 (3.12 dropped the '
            'numpy.distutils it imports); use a venv of Python 3.11 or '
            'older. Original error: %s' % (sys.version_info[:2] + (error,)))


try:
    import chainer
    from chainer.training import extensions as _extensions
    _Extension = _extensions.PrintReport
except ImportError as _error:  # pragma: no cover - depends on the machine
    chainer = _extensions = None
    _NO_CHAINER = _without_chainer(_error)

    class _Extension(object):
        """SlackReport's base without Chainer: the command line works, and
        making a SlackReport says how to get Chainer."""

        def __new__(cls, *args, **kwargs):
            raise ImportError(_NO_CHAINER)

__version__ = '1.2.0'
__all__ = ['SlackReport', 'SlackReportWarning', 'DEFAULT_TEMPLATE']

DEFAULT_TEMPLATE = ('{status}  {elapsed}  {progress}  updated {updated}\n'
                    '{hostname}:{pwdshort}  `{cmd} {args}`  {git}  '
                    'pid {pid} {processes} {group}\n'
                    '{trends}\n{content}\n{finish_mentions}')


class SlackReportWarning(UserWarning):
    """Category of every warning slack_report gives (filter it if you like)."""


def _warn(message, hide, stacklevel):
    """Warn of ``message``, its secrets hidden by ``hide`` (the run's)."""
    warnings.warn(hide(message), SlackReportWarning,
                  stacklevel=stacklevel + 1)


def _warn_quietly(message):
    """Warn where nothing may raise, even under ``python -W error``: at the
    line of the user's code that called in, else (on the sender's thread)
    with no line: never at this file's."""
    filename, line, names = _user_code()
    try:
        warnings.warn_explicit(message, SlackReportWarning, filename, line,
                               registry=names.setdefault(
                                   '__warningregistry__', {}))
    except Exception:
        pass


def _user_code():
    """Where the user's code called in: file, line and module globals of
    the innermost frame outside this file, Chainer and the threading
    module; on the sender's thread, where there is none, no line."""
    skipped = (_user_code.__code__.co_filename,
               threading.Thread.run.__code__.co_filename)
    library = (os.path.dirname(chainer.__file__) + os.sep,) if chainer else ()
    frame = sys._getframe(1)
    while frame is not None:
        filename = frame.f_code.co_filename
        if filename not in skipped and not filename.startswith(library):
            return filename, frame.f_lineno, frame.f_globals
        frame = frame.f_back
    return 'slack_report', 0, globals()


###############################################################################
# Schedulers: what a job tells of itself ######################################
###############################################################################

# How each scheduler tells a process which job it is (each name checked
# against the scheduler's documentation): the variable of the job's ID; of
# the array's ID (None: the job's, its '[N]' made '[]'); of the task's index
# (the first set), and the index outside an array (None: unset there); how
# its tools write an array task; the array's first, last and step, and its
# task count, where it tells them; the variable set when this life is a
# restart; and the signals by which it ends or warns a job beside SIGTERM
# and SIGHUP ('': an ending; else the notice it gives).
_Scheduler = collections.namedtuple('_Scheduler', 'name job array task '
                                    'outside task_name range count restart '
                                    'signals')
_SCHEDULERS = (
    _Scheduler('Slurm', 'SLURM_JOB_ID', 'SLURM_ARRAY_JOB_ID',
               ('SLURM_ARRAY_TASK_ID',), None, '{array}_{task}',
               ('SLURM_ARRAY_TASK_MIN', 'SLURM_ARRAY_TASK_MAX',
                'SLURM_ARRAY_TASK_STEP'), 'SLURM_ARRAY_TASK_COUNT',
               'SLURM_RESTART_COUNT', {}),
    _Scheduler('Grid Engine', 'JOB_ID', 'JOB_ID', ('SGE_TASK_ID',),
               'undefined', '{job}.{task}', (
                   'SGE_TASK_FIRST', 'SGE_TASK_LAST', 'SGE_TASK_STEPSIZE'),
               None, 'RESTARTED', {
                   'SIGUSR2': 'kill notice from Grid Engine',
                   'SIGUSR1': 'suspend or time-limit notice from Grid '
                              'Engine'}),
    # PBS Professional and OpenPBS (PBS_ARRAY_INDEX), Torque (PBS_ARRAYID):
    # an array task's PBS_JOBID is 123[4].server already.
    _Scheduler('PBS', 'PBS_JOBID', 'PBS_ARRAY_ID', (
        'PBS_ARRAY_INDEX', 'PBS_ARRAYID'), None, '{job}', (), None, None,
               {}),
    _Scheduler('LSF', 'LSB_JOBID', 'LSB_JOBID', ('LSB_JOBINDEX',), '0',
               '{job}[{task}]', (), None, 'LSB_RESTART', {'SIGINT': ''}),
    _Scheduler('PJM', 'PJM_JOBID', 'PJM_JOBID', ('PJM_BULKNUM',), None,
               '{job}[{task}]', (), None, None, {}),  # Fujitsu's bulk jobs
)
# What a run learned of its job: the scheduler's row; the job as its tools
# show it; for an array task, the array's ID (a sweep's group), the task's
# index, [first, last, step] (or []) and the task count (None: unknown); and
# whether this life is a restart.
_Job = collections.namedtuple('_Job', 'scheduler name group task tasks size '
                              'restarted')


def _job(env=None):
    """This process's job, as the first scheduler that tells of it; None
    outside all. A lone job's group is ''."""
    env = os.environ if env is None else env
    for row in _SCHEDULERS:
        task = next((env[name] for name in row.task if name in env), None)
        # Grid Engine always sets its task, so its generic JOB_ID needs it.
        if env.get(row.job) and (task is not None or row.outside is None):
            return _job_of(row, env, task)
    return None


def _job_of(row, env, task):
    job = env[row.job]
    restarted = env.get(row.restart or '', '') not in ('', '0', 'N')
    if task in (None, row.outside):
        return _Job(row, job, '', '', [], None, restarted)
    group = env.get(row.array or '') or re.sub(r'\[\d+\]', '[]', job)
    try:
        tasks = [int(env[name] or 1) for name in row.range]
    except (KeyError, ValueError):
        tasks = []
    size = env.get(row.count or '')  # checked with group_size
    if not size and tasks and tasks[2] > 0:
        size = len(range(tasks[0], tasks[1] + 1, tasks[2]))
    name = row.task_name.format(job=job, array=group, task=task)
    return _Job(row, name, group, task, tasks, size, restarted)


###############################################################################
# Options and run identity (at construction) ##################################
###############################################################################

_PLACEHOLDERS = ('status', 'hostname', 'pwd', 'pwdshort', 'cmd', 'args',
                 'elapsed', 'progress', 'trends', 'git', 'pid', 'processes',
                 'group', 'updated', 'content', 'finish_mentions')
_NORMALIZER_NAMES = "'thin_out', 'FIFO', 'LIFO'"
_MENTION_FORMS = ("'@U0123ABCD', 'U0123ABCD', '<@U0123ABCD>', "
                  "'<!subteam^S0123ABCD>', 'S0123ABCD', '@here', '@channel', "
                  "'@everyone' (or with !), a username such as '@alice' "
                  "(not a display name), or an e-mail address")
_SPECIAL = ('here', 'channel', 'everyone')


def _check_entries(entries, log_report):
    """Return ``entries`` as a list; raise naming a bad one."""
    given = entries
    entries = list(entries) if isinstance(
        entries, collections.abc.Iterable) and not isinstance(
            entries, str) else []
    if not entries or not all(isinstance(e, str) for e in entries):
        raise TypeError('entries must be a list of str such as '
                        "['epoch', 'main/loss'], not %r" % (given,))
    if not isinstance(log_report, (str, _extensions.LogReport)):
        raise TypeError('log_report must be the name of a LogReport '
                        'extension or a LogReport, not %r' % (log_report,))
    return entries


def _check_options(max_length, seconds, fields, comm, stale_after):
    """Raise a TypeError or ValueError naming the first bad option."""
    if not (isinstance(max_length, int) and 100 <= max_length <= 4000):
        raise ValueError('max_length %r must be an int from 100 to 4000 '
                         '(chat.update refuses longer text)' % (max_length,))
    for name, value in sorted(seconds.items()):
        if not isinstance(value, (int, float)) or not value >= 0 or (
                name == 'timeout' and not value):
            raise ValueError('%s must be a number of seconds >= 0 (> 0 for '
                             'timeout), not %r' % (name, value))
    for key in fields:
        if not (isinstance(key, str) and key.isidentifier()) or (
                key in _PLACEHOLDERS):
            raise ValueError('fields key %r must be a name that is not one '
                             'of the placeholders %s'
                             % (key, ', '.join(_PLACEHOLDERS)))
    if comm is not None and not (hasattr(comm, 'rank') and
                                 hasattr(comm, 'size')):
        raise TypeError('comm must be a ChainerMN communicator (with rank '
                        'and size), not %r' % (comm,))
    if stale_after not in (None, 'auto') and not (
            isinstance(stale_after, (int, float)) and stale_after > 0):
        raise ValueError("stale_after %r must be 'auto', None or a number of "
                         'seconds > 0' % (stale_after,))


def _check_flags(**flags):
    """Raise a TypeError naming the first flag that is not a bool."""
    for name, value in sorted(flags.items()):
        if not isinstance(value, bool):
            raise TypeError('%s %r must be True or False' % (name, value))


def _sweep_options(group, size, rank_by, entries, job):
    """The run's group and size, from the arguments or the environment (a
    scheduler's ``job`` array groups itself; False: none), and rank_by,
    checked."""
    env = os.environ.get
    array = job.group if job else ''
    if group is None:
        group = env('SLACK_REPORT_GROUP') or array or None
    if type(group) is int:
        group = str(group)
    if size is None:  # the scheduler's count only for its own array
        size = env('SLACK_REPORT_GROUP_SIZE') or (
            job.size if group and group == array else None)
    if group not in (None, False) and not (
            isinstance(group, str) and re.fullmatch(r'[^\x00-\x1f]{1,80}',
                                                    group)):
        raise ValueError('group %r must be a name of 1 to 80 printable '
                         'characters, None or False' % (group,))
    if size in (None, ''):
        size = None
    elif (type(size) is int or isinstance(size, str) and size.isdigit()) \
            and int(size) >= 1:
        size = int(size)
    else:
        raise ValueError('group_size %r must be a whole number >= 1 or None '
                         '(from $SLACK_REPORT_GROUP_SIZE, else a job array\'s'
                         ' count such as $SLURM_ARRAY_TASK_COUNT, if not '
                         'given)' % (size,))
    if rank_by is not None and rank_by not in entries:
        raise ValueError('rank_by %r must be one of the entries %s'
                         % (rank_by, ', '.join(map(repr, entries))))
    if not group:  # None, or False: no sweep
        return None, None, rank_by
    return group, size, rank_by


def _settings(token, channel, api_url):
    """Token, channel and API base URL, from the arguments or else the
    environment; a malformed token (not shown) or a URL that would send it
    unencrypted across a network raises ValueError."""
    env = os.environ.get
    token = token or env('SLACK_ACCESS_TOKEN') or env('SLACK_BOT_TOKEN')
    if token and not (isinstance(token, str) and
                      re.fullmatch(r'[\x21-\x7e]+', token)):
        raise ValueError('access_token must be printable ASCII without '
                         'spaces, like xoxb-...; check for a stray newline '
                         'or quote')
    api_url = api_url or env('SLACK_API_URL') or 'https://slack.com/api/'
    parts = urllib.parse.urlsplit(api_url)
    # A user@ or a backslash before a loopback host may send plain http
    # elsewhere: a relay or proxy may read the URL otherwise than urllib.
    local = _is_loopback(parts.hostname) and '@' not in parts.netloc
    if not parts.hostname or '\\' in parts.netloc or parts.scheme not in (
            'https', 'http') or parts.scheme == 'http' and not local:
        raise ValueError('api_url %r must be https://... (plain http:// is '
                         'only accepted for loopback addresses)'
                         % _Secrets(()).hide(api_url))
    return (token, channel or env('SLACK_CHANNEL_ID'),
            api_url.rstrip('/') + '/')


def _is_loopback(host):
    try:
        return host == 'localhost' or ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _git_commit():
    """Short commit of the script's directory, else of the working one (a
    job may run from scratch); '+' when dirty; '' if none."""
    def git(where, *args):
        return subprocess.run(('git',) + args, stdout=subprocess.PIPE,
                              stderr=subprocess.DEVNULL, timeout=10,
                              universal_newlines=True, cwd=where)
    script = os.path.dirname(os.path.abspath((sys.argv or [''])[0]))
    try:
        for where in (script, None):
            commit = git(where, 'rev-parse', '--short', 'HEAD')
            if not commit.returncode:
                dirty = git(where, 'status', '--porcelain',
                            '--untracked-files=no').stdout.strip()
                return commit.stdout.strip() + ('+' if dirty else '')
    except (OSError, subprocess.SubprocessError):
        pass
    return ''


def _run_identity(comm, fields, with_git, group, argv):
    """The values of the placeholders that stay fixed for the whole run."""
    pwd = os.getcwd()
    home = os.path.expanduser('~')
    identity = {
        'hostname': socket.gethostname(),
        'pwd': pwd,
        'pwdshort': '~' + pwd[len(home):]
        if pwd.startswith(home) and home != '/' else pwd,
        'cmd': argv[0],
        'args': ' '.join(a if a.endswith('***') else shlex.quote(a)
                         for a in argv[1:]),
        'pid': str(os.getpid()),
        'processes': '%d processes' % comm.size
        if comm is not None and comm.size > 1 else '',
        'git': _git_commit() if with_git else '',
        'group': 'sweep %s' % group if group else '',
    }
    identity.update((key, str(value)) for key, value in fields.items())
    return identity


def _the_run(comm, fields, with_git, sweep, secrets, job):
    """What stays fixed of the run: the placeholders' values and its card;
    ``secrets``: of the command line the message shows."""
    identity = _run_identity(comm, fields, with_git, sweep[0], secrets.argv)
    return identity, _run_card(identity, fields, sweep, secrets.argv, job)


def _command_line(argv):
    """``argv``, but in a Jupyter kernel the notebook (as Jupyter names it)
    or 'Jupyter': the kernel's own arguments are no command anyone typed."""
    if argv and 'ipykernel' in os.path.basename(argv[0]):
        return [os.environ.get('JPY_SESSION_NAME') or 'Jupyter']
    return argv


def _warn_setup(token, reporting, comm, control, hide):
    """Say, once, why a report would not work as meant."""
    world = _mpi_world(comm)
    if not reporting:
        _warn('SlackReport has no %s: set SLACK_ACCESS_TOKEN and '
              'SLACK_CHANNEL_ID; training goes on without Slack reports'
              % ('token' if not token else 'channel'), hide, 3)
    elif world and world[0]:  # registered on every rank, without comm
        _warn('this is rank %d of %d MPI processes and posts a message of '
              'its own: register SlackReport on every rank with comm= (a '
              'ChainerMN communicator) for one message, or on rank 0 only'
              % world, hide, 3)
    elif world and control:  # perhaps on rank 0 only, as Chainer's example
        _warn('this is rank 0 of %d MPI processes without comm=: a stop or '
              'snapshot from the thread would not reach the other ranks, so '
              'it is refused; register SlackReport on every rank with comm= '
              '(a ChainerMN communicator) to have them' % world[1], hide, 3)


def _run_card(identity, fields, sweep, argv, job):
    """What stays fixed of the run's card, as a program reads it. The array
    task keys it in its group: a requeued task replaces its earlier self."""
    group, size, rank_by = sweep
    job = job or _Job(None, '', '', '', [], None, False)
    return {'v': 1, 'run': os.urandom(6).hex(), 'key': job.task,
            'tasks': job.tasks if group and group == job.group else [],
            'alerts': [], 'group': group or '',
            'size': size or 0, 'rank_by': rank_by or '',
            'host': identity['hostname'], 'pid': os.getpid(), 'cmd': argv[0],
            'args': argv[1:], 'git': identity['git'],
            'fields': {k: _clean(str(v)) for k, v in fields.items()}}


# Secrets never leave the machine: the value of an argument named like one
# (its name's words split on -, _ and .; with or without dashes, as Hydra's
# key=value), anything shaped like a token (Slack, OpenAI, AWS, GitHub) or
# a Slack webhook, the credentials in a URL, and any text holding a value
# hidden once. _SlackClient hides them in every text and metadata it sends.
_SECRET_WORDS = ('token', 'secret', 'password', 'passwd', 'credential')
_TOKEN_SHAPE = re.compile(
    r'xox[a-z]-[\w-]+|xapp-[\w-]+|https://hooks\.slack\.com/\S+|'
    r'\bsk-[\w-]{16,}|\b(?:AKIA|ASIA)[A-Z0-9]{16}\b|\bgh[pousr]_\w{30,}|'
    r'github_pat_\w+|(?<=://)[^/\s@]+(?=@)')  # the last: user:password@
_HIDDEN_LEAST = 6  # characters of a secret value hidden in free text too


def _secret_name(arg):
    """The name of ``arg`` if it names a secret ('--api-key', '--password=
    ...', 'db.password=...', '+trainer.api_key=...'; not '--max-tokens' nor
    '--num-keypoints'), else None."""
    name = arg.split('=', 1)[0]
    if not arg.startswith('-') and ('=' not in arg or not re.fullmatch(
            r'[+~]{0,2}[\w.-]+', name)):
        return None
    words = re.split(r'[-_.]', name.lstrip('-+~').lower())
    found = words[-1].endswith('key') or any(w in _SECRET_WORDS
                                             for w in words)
    return name if found else None


class _Secrets(object):
    """The command line (``argv``) with its secrets as ***, and ``hide``
    for any other text that may hold them (an exception's message)."""

    def __init__(self, argv):
        self._values, shown, after = [], [], False
        for arg in (_clean(a) for a in argv or ['']):
            name = _secret_name(arg)
            if after:  # --password value, whatever it starts with
                self._values.append(arg)
                shown.append('***')
            elif name and '=' in arg:  # --password=value, db.password=value
                self._values.append(arg.split('=', 1)[1])
                shown.append(name + '=***')
            else:
                shown.append(arg)
            after = not after and bool(name) and '=' not in arg
        # Once every value is known: an earlier argument may hold a later's.
        self.argv = [self.hide(arg) for arg in shown]

    def hide(self, text):
        for value in self._values:
            if len(value) >= _HIDDEN_LEAST:
                text = text.replace(value, '***').replace(_escape(value),
                                                          '***')
        return _TOKEN_SHAPE.sub('***', text)


def _parse_mentions(finish_mentions, option='finish_mentions'):
    """Split ``finish_mentions`` into Slack markup and names to look up."""
    if isinstance(finish_mentions, str):
        finish_mentions = re.split(r'[\s,]+', finish_mentions.strip())
    if not isinstance(finish_mentions, (list, tuple)):
        raise ValueError('%s %r must be a str or a list of str; accepted '
                         'forms: %s' % (option, finish_mentions,
                                        _MENTION_FORMS))
    markup, names = [], []
    for entry in finish_mentions:
        if not isinstance(entry, str):
            raise ValueError('%s entry %r is not a str; accepted forms: %s'
                             % (option, entry, _MENTION_FORMS))
        if not entry:
            continue
        user = re.match(r'^(?:<@|@)?([UW][A-Z0-9]{8,})>?$', entry)
        group = re.match(r'^(?:<!subteam\^)?(S[A-Z0-9]{8,})(\|[^>]*)?>?$',
                         entry)
        special = re.match(r'^<?[@!](%s)>?$' % '|'.join(_SPECIAL), entry)
        if user and (entry[0] != '<') == (entry[-1] != '>'):
            markup.append('<@%s>' % user.group(1))
        elif group and (entry[0] != '<') == (entry[-1] != '>'):
            markup.append('<!subteam^%s>' % group.group(1))
        elif special:
            markup.append('<!%s>' % special.group(1))
        elif re.match(r'^@[\w.\-]+$', entry):
            names.append(entry[1:])
        elif re.match(r'^@?[\w.+\-]+@[\w\-]+(\.[\w\-]+)+$', entry):
            names.append(entry.lstrip('@'))  # an e-mail address
        else:
            raise ValueError('%s entry %r is not a mention; accepted forms:'
                             ' %s' % (option, entry, _MENTION_FORMS))
    return markup, names


# maximize='auto': a name with a loss word is best lowest, else one with a
# score word (or such a word with a suffix: f1_score, rougeL, map50) highest.
_LOSS_WORD = re.compile(r'(loss|error|err|nll|mse|mae|rmse|perplexity|ppl|'
                        r'cer|wer)\d*$')
_SCORE_WORD = re.compile(r'(accuracy|acc|f1|bleu|rouge|iou|miou|auc|map|'
                         r'precision|recall|psnr|ssim|r2)(\d+|@\d+|[a-z])?$')


def _maximized(entries, maximize):
    """The entries whose best is the highest: by their names' words (split
    on /, _, -) if ``maximize`` is 'auto', else as it lists them."""
    if maximize == 'auto':
        words = {e: re.split(r'[/_-]', e.lower()) for e in entries}
        return {e for e, w in words.items() if not any(
            map(_LOSS_WORD.match, w)) and any(map(_SCORE_WORD.match, w))}
    if not isinstance(maximize, (list, tuple, set)) or not set(
            maximize) <= set(entries):
        raise ValueError("maximize %r must be 'auto' or a list of entries "
                         'among %s' % (maximize, ', '.join(map(repr,
                                                              entries))))
    return set(maximize)


_CONDITION = re.compile(r'\s*(<=|>=|<|>)\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE]'
                        r'[-+]?\d+)?)\s*')
_TESTS = {'<': float.__lt__, '<=': float.__le__, '>': float.__gt__,
          '>=': float.__ge__}


def _alert_conditions(alert_when, entries):
    """``alert_when``, checked, as {entry: (condition, test, threshold)}."""
    if not isinstance(alert_when, dict):
        raise TypeError("alert_when %r must be a dict such as {'main/loss': "
                        "'> 10'}" % (alert_when,))
    conditions = {}
    for entry, condition in alert_when.items():
        found = isinstance(condition, str) and _CONDITION.fullmatch(condition)
        if entry not in entries or not found:
            raise ValueError('alert_when {%r: %r} must name one of the '
                             "entries %s with a condition such as '> 10' or "
                             "'<= 1e-3' (<, <=, >, >=)" % (entry, condition,
                                                          entries))
        conditions[entry] = ('%s %s' % found.groups(), _TESTS[found.group(
            1)], float(found.group(2)))
    return conditions


_MPI = ('OMPI_COMM_WORLD_', 'PMI_', 'PMIX_', 'MV2_COMM_WORLD_')  # launchers


def _mpi_world(comm):
    """(rank, size) as the MPI launcher tells them, when it started several
    processes and no ``comm`` says how they share the report; else None."""
    sizes = [os.environ.get(name + 'SIZE', '') for name in _MPI]
    ranks = [os.environ.get(name + 'RANK', '') for name in _MPI]
    size = max([int(s) for s in sizes if s.isdigit()] or [1])
    rank = max([int(r) for r in ranks if r.isdigit()] or [0])
    return (rank, size) if comm is None and size > 1 else None


def _control_options(controllers, interval, mentions):
    """Who may stop or snapshot the run from its thread, as (user IDs,
    names to look up), and ``interval``, checked; 'auto': the people
    ``mentions`` (finish_mentions, parsed) name; None or False: no one."""
    if controllers in (None, False):
        return [], [], interval
    markup, names = mentions if controllers == 'auto' else _parse_mentions(
        controllers, 'controllers')
    people = [m[2:-1] for m in markup if m.startswith('<@')]
    if controllers != 'auto' and len(people) < len(markup):
        raise ValueError('controllers %r must name people (@U0123ABCD or '
                         '@alice); @here, @channel and user groups name no '
                         'one. None turns control off' % (controllers,))
    if interval != 'auto' and not (
            isinstance(interval, (int, float)) and interval > 0):
        raise ValueError("control_interval %r must be 'auto' or a number of "
                         'seconds > 0' % (interval,))
    return people, names, interval


# Every option, checked at construction, as a report keeps it: ``control``
# is (user IDs, names to look up, interval); ``maximize`` and ``alert_when``
# as given (a _Trends reads them). Not the token: a record's repr shows all.
_Options = collections.namedtuple('_Options', (
    'entries log_report template used mentions normalizer max_length '
    'channel api_url min_interval timeout flush_timeout fields comm '
    'stale_after plot handle_signals group size rank_by maximize alert_when '
    'alert_nonfinite control'))


def _checked(access_token, channel_id, entries, template, finish_mentions,
             len_normalizer, log_report, api_url, max_length, min_interval,
             timeout, flush_timeout, fields, comm, stale_after, plot,
             handle_signals, group, group_size, rank_by, maximize,
             controllers, control_interval, alert_nonfinite, alert_when,
             job, hide):
    """The token and SlackReport's other options, each checked (a
    TypeError or ValueError names the first bad one), with what the
    environment adds (the scheduler's ``job``); ``hide``: the secrets of a
    warning."""
    fields = dict(fields or {})
    entries = _check_entries(entries, log_report)
    _check_options(max_length, dict(
        min_interval=min_interval, timeout=timeout,
        flush_timeout=flush_timeout), fields, comm, stale_after)
    _check_flags(plot=plot, handle_signals=handle_signals,
                 alert_nonfinite=alert_nonfinite)
    _maximized(entries, maximize)
    _alert_conditions(alert_when or {}, entries)
    group, size, rank_by = _sweep_options(group, group_size, rank_by,
                                          _trended(entries), job)
    token, channel, api_url = _settings(access_token, channel_id, api_url)
    template, used = _compile_template(
        template, _PLACEHOLDERS + tuple(fields), hide)
    mentions = _parse_mentions(finish_mentions)
    control = _control_options(controllers, control_interval, mentions)
    return token, _Options(
        entries, log_report, template, used, mentions,
        _normalizer(len_normalizer), max_length, channel, api_url,
        min_interval, timeout, flush_timeout, fields, comm, stale_after,
        plot, handle_signals, group, size, rank_by, maximize, alert_when,
        alert_nonfinite, control)


###############################################################################
# The extension (training thread) #############################################
###############################################################################

# What one report hands on: ``kind`` (started, training, or an ending), a
# one-line ``detail``, a failure's ``trace``, progress (done, length, done
# and time at the start, or None), and the log with how many rows count (it
# only grows, so a length fixes its content).
_State = collections.namedtuple('_State', 'kind detail trace resumed elapsed '
                                'progress log rows time answers')
_State.__new__.__defaults__ = ('', '', False, 0.0, None, (), 0, 0.0, ())
# How each kind of state behaves, the one place that says it: its label in
# the status; whether training is over (a run's end, or a run its sweep
# finds silent); whether a sweep's summary tells it, so that the run's own
# end leaves the mention to the summary (when the sweep knows its size);
# and whether its status mentions the finish_mentions people (unless the
# summary does). A sweep's cards carry these kinds as their status.
_Kind = collections.namedtuple('_Kind', 'label ends told notifies')
_KINDS = collections.OrderedDict((
    ('started', _Kind('Started', False, False, False)),
    ('training', _Kind('Training', False, False, False)),
    ('completed', _Kind('Completed', True, True, True)),
    ('stopped', _Kind('Stopped', True, True, True)),
    ('failed', _Kind('Failed', True, False, True)),
    ('interrupted', _Kind('Interrupted', True, False, True)),
    ('terminated', _Kind('Terminated', True, False, True)),
    ('silent', _Kind('Silent', True, False, True)),  # told by the sweep
))


def _ended(state):
    """Whether ``state`` ends training."""
    return _KINDS[state.kind].ends


def _quiet(kind, sweep_tells):
    """Whether a run's end of ``kind`` leaves its mention to the sweep's
    summary (``sweep_tells``: the run reports in a sweep that knows its
    size, whose summary notifies)."""
    return sweep_tells and _KINDS[kind].told


# What the sender learned, published whole (one store is atomic).
_Learned = collections.namedtuple(
    '_Learned', 'channel ts switch user_ids sweep_tells command')
_Learned.__new__.__defaults__ = (None, None, None, False, None)
_DETAIL_LENGTH = 100  # characters of an exception's first line in a status
_TRACE_FRAMES = 3  # frames of a failure's traceback in the thread reply
_TRACE_LENGTH = 3000  # UTF-16 units of it, at most (its end is kept)


class SlackReport(_Extension):

    """Keeps one Slack message up to date with the PrintReport table of
    ``entries``, status, progress and trends; at the end, a mention.

    Args:
        access_token, channel_id (str): The bot's token and the channel;
            None: ``$SLACK_ACCESS_TOKEN``, ``$SLACK_CHANNEL_ID``.
        entries, log_report: As for PrintReport.
        template (str): ``str.format`` template of the message.
        finish_mentions (str or list of str): Who to notify at the end.
        len_normalizer (str): ``'thin_out'``, ``'FIFO'`` or ``'LIFO'``.
        api_url (str): Web API base; None: ``$SLACK_API_URL`` or Slack's.
        max_length (int): Longest text sent, in UTF-16 units (<= 4000).
        min_interval, timeout, flush_timeout (float): Seconds between two
            calls; before a request is abandoned; the end waits at most.
        fields (dict): Extra placeholders: ``{'tag': 'lr=0.1'}``.
        comm: A ChainerMN communicator: only rank 0 reports.
        stale_after (float or str): Seconds without a report after which
            Slack posts that the run went silent; ``'auto'`` or None.
        plot, handle_signals (bool): Post a PNG of the curves at the end;
            report SIGTERM and SIGHUP as terminated.
        group, group_size, rank_by: The sweep, its size, its ranking entry.
        maximize (list of str or str): The entries best when highest;
            'auto': by their names (accuracy, f1, bleu...; not a loss).
        controllers, control_interval: Who may stop or snapshot the run by
            a reply in its thread ('auto': finish_mentions' people; None),
            and every how many seconds the thread is read ('auto').
        alert_nonfinite (bool), alert_when (dict): Tell the finish_mentions
            people when a value goes NaN or infinite, and when a condition
            such as ``{'main/loss': '> 10'}`` is met.
    """

    def __init__(self, access_token=None, channel_id=None, entries=None,
                 template=DEFAULT_TEMPLATE, finish_mentions=(),
                 len_normalizer='thin_out', log_report='LogReport', *,
                 api_url=None, max_length=4000, min_interval=5.0,
                 timeout=10.0, flush_timeout=60.0, fields=None, comm=None,
                 stale_after='auto', plot=True, handle_signals=True,
                 group=None, group_size=None, rank_by=None,
                 maximize='auto', controllers='auto',
                 control_interval='auto', alert_nonfinite=True,
                 alert_when=None):
        # The command line the message shows, its secrets hidden in all.
        secrets, job = _Secrets(_command_line(sys.argv)), _job()
        token, options = _checked(
            access_token, channel_id, entries, template, finish_mentions,
            len_normalizer, log_report, api_url, max_length, min_interval,
            timeout, flush_timeout, fields, comm, stale_after, plot,
            handle_signals, group, group_size, rank_by, maximize,
            controllers, control_interval, alert_nonfinite, alert_when,
            job, secrets.hide)
        self._silent = comm is not None and comm.rank != 0
        table = _Table(options.normalizer, max_length)
        super(SlackReport, self).__init__(options.entries, log_report,
                                          out=table)
        self._message = _message(options, table, job, secrets,
                                 not self._silent)
        self._outbox = _Outbox(options, self._message, job, _SlackClient(
            token, options.api_url, timeout, secrets.hide) if token and not
            self._silent else None)
        self._course = _Course(options.entries, self._outbox, secrets.hide,
                               flush_timeout)
        self._options, self._job, self._commands = options, job, None
        self._hide = secrets.hide
        _warn_setup(token, self.available or self._silent, comm,
                    any(options.control[:2]), secrets.hide)

    @property
    def available(self):
        """Whether this report talks to Slack (it has a token and channel)."""
        return self._outbox.available

    @property
    def channel(self):
        """The channel given (or ``$SLACK_CHANNEL_ID``), None without."""
        return self._options.channel

    @property
    def message(self):
        """The text as it is (or would be) sent for the newest state."""
        state, learned = self._course.state, self._outbox.learned()
        text = self._message.render(state, learned.user_ids, _quiet(
            state.kind, learned.sweep_tells))
        return self._hide(text)  # as the client sends it

    @property
    def picture(self):
        """The run's curves as PNG bytes (None before any number), as
        ``plot`` posts them at the end."""
        return self._message.picture(self._course.state)

    def alert(self, text):
        """Post ``text`` in the run's thread as an alert that notifies the
        finish_mentions people, from any thread, at once (or once the
        message exists), never blocking; the same text once in ten minutes
        at most."""
        self._outbox.alert(_clean(str(text))[:_DETAIL_LENGTH * 3])

    def link(self):
        """Where the message is, as Slack tells it: its permalink, else its
        channel and ts (a call to Slack: once training ended)."""
        return self._outbox.link()

    def initialize(self, trainer):
        if not self._silent:
            self._start(trainer)
        comm = self._options.comm
        if any(self._options.control[:2]) and (
                self._outbox.started or comm):  # someone listens, or MPI
            self._commands = _Commands(trainer, self._outbox, comm,
                                       self._course.report)
            self._course.commands = self._commands

    def __call__(self, trainer):
        if self._commands:
            self._commands.agree()  # under ChainerMN: every rank, alike
        if self._silent:
            return
        if not self._course.started:  # called without initialize, as tests do
            self._start(trainer)
        super(SlackReport, self).__call__(trainer)
        self._course.report('training')

    def on_error(self, trainer, exc, tb):
        self._course.failure = exc, tb

    def finalize(self):
        if self._silent or _ended(self._course.state):
            return
        self._course.end()  # a signal meanwhile cuts the end to its grace
        self._course.join()
        _SIGNALS.remove(self._course)

    def serialize(self, serializer):
        super(SlackReport, self).serialize(serializer)
        # The message travels in snapshots, so a resumed run keeps it.
        if isinstance(serializer, chainer.serializer.Serializer):
            serializer('_slack_message', _saved(self._outbox.learned()))
        else:
            self._outbox.resume(_restored(serializer, self.channel))

    def _start(self, trainer):
        self._course.start(_Run(trainer, self._log_report,  # PrintReport's
                                self._outbox.resumed))
        if self._outbox.start() and self._options.handle_signals:
            _SIGNALS.add(self._course, self._job)
        self._course.report('started')


def _message(options, table, job, secrets, reporting):
    """The run's _Message: the template, what stays fixed of the run
    (``job``'s part; secrets hidden; git asked only if ``reporting``), the
    table, the trends."""
    trends = _Trends(options.entries, options.maximize, options.alert_when,
                     options.alert_nonfinite)
    identity, card = _the_run(
        options.comm, options.fields, 'git' in options.used and reporting,
        (options.group, options.size, options.rank_by), secrets, job)
    return _Message(options.template, options.used, identity, table, trends,
                    options.max_length, options.mentions, card)


class _Outbox(object):
    """A report's way to Slack, from the training thread: the sender once
    the run starts (if there are a ``client``, None without a token or on a
    rank that does not report, and a channel), what it learned (before,
    what a snapshot carried), the texts ``alert()`` hands on, and the end's
    deadline."""

    def __init__(self, options, message, job, client):
        self._options, self._message, self._client = options, message, client
        # Its scheduler may have started the task again (requeued).
        self._requeued = job is not None and job.restarted
        self._handed = collections.deque(maxlen=_ALERT_LINES)
        self._resumed = self._sender = None  # from a snapshot; in a run

    @property
    def available(self):
        return bool(self._client and self._options.channel)

    @property
    def started(self):
        return self._sender is not None

    @property
    def resumed(self):
        """Whether a snapshot carried the run's message."""
        return self._resumed is not None

    def learned(self):
        if self._sender is not None:
            return self._sender.learned
        return self._resumed or _Learned(self._options.channel)

    def start(self):
        """Start sending, if this report talks to Slack; whether it does."""
        if self.available:
            self._sender = _Sender(self._client, self._message,
                                   self.learned(), self._options,
                                   self._handed, self._requeued)
        return self.started

    def resume(self, learned):
        """What a snapshot carried (after initialize: ``autoload``)."""
        self._resumed = learned
        if self._sender is not None:
            self._sender.resume(learned)

    def alert(self, text):
        self._handed.append(text)
        if self._sender is not None:
            self._sender.poke()

    def offer(self, state):
        if self._sender is not None:
            self._sender.offer(state)

    def close(self, seconds):
        """The end is handed on: the sender has ``seconds`` more."""
        if self._sender is not None:  # join() waits for it
            self._sender.close(seconds)

    def hurry(self, seconds):
        if self._sender is not None:
            self._sender.hurry(seconds)

    def join(self):
        if self._sender is not None:
            self._sender.join()

    def link(self):
        learned = self.learned()
        return _link(self._client, learned.channel, learned.ts)


class _Course(object):
    """The run as its report hands it on, on the training thread: each
    state (from the trainer once started, with the commands' answers and a
    scheduler's notice), and at the end how the run ended; what a signal
    does to it (see _SignalGuard)."""

    def __init__(self, entries, outbox, hide, flush):
        self.state = _State('started', time=time.time())
        self.commands = None  # the stop trigger's wrapper, if any
        self.failure = None  # (exception, traceback), as on_error saw it
        self._outbox, self._hide, self._flush = outbox, hide, flush
        self._run = self._terminated = None
        self._notice = ''  # a scheduler's warning, shown while training
        self._unlogged = _Unlogged(entries)

    @property
    def started(self):
        return self._run is not None

    def start(self, run):
        self._run = run

    def report(self, kind, detail='', trace=''):
        if kind == 'training':
            detail = self._notice
        if self._run is not None:
            self.state = self._run.snapshot(kind, detail, trace, (
                self.commands.answers if self.commands else ()))
        else:  # finalize without initialize: an earlier extension failed
            self.state = _State(kind, detail, trace, time=self.state.time)
        self._unlogged.check(self.state)
        self._outbox.offer(self.state)

    def end(self):
        """Hand on how the run ended: the sender's grace starts now."""
        ending = _ending(self.failure, self._run, self._terminated,
                         self.commands.stopped if self.commands else None)
        self.report(*map(self._hide, ending))
        if ending[0] == 'terminated':
            self._outbox.close(min(_SIGNAL_GRACE, self._flush))
        else:
            self._outbox.close(self._flush)

    def join(self):
        """Wait for the end to be out, within its deadline."""
        self._outbox.join()

    def signalled(self, description, ending):
        """A signal that ends the job (however the run then ends, it was
        cut short), or a scheduler's notice to show."""
        if ending:
            self._terminated = description
        else:
            self._notice = description
            self.report('training')

    def cut_short(self):
        """The signal ends the job now: the end is handed on, or, amid
        it, hurried to the signal's grace."""
        if _ended(self.state):
            self._outbox.hurry(_SIGNAL_GRACE)
        else:
            self.end()


def _saved(learned):
    return json.dumps(learned[:3] if learned.ts else [])


def _restored(serializer, channel):
    try:  # '' from load_npz(strict=False) without SlackReport
        saved = json.loads(str(serializer('_slack_message', '')) or '[]')
    except (KeyError, ValueError):  # a snapshot without SlackReport
        saved = []
    return _Learned(*saved) if saved else _Learned(channel)


def _ending(failure, run, terminated, stopped):
    """How the run ended: kind, detail and trace of its final state. A
    signal that ends jobs came (``terminated``): unless training then reached
    its end, the run was cut short, whatever the program did about it.
    ``stopped``: (who, iteration) of a stop from the run's thread."""
    detail, trace = _describe_failure(*failure) if failure else ('', '')
    if terminated and not (run is not None and run.finished()):
        where = ', ' + run.where() if run is not None else ''
        return 'terminated', terminated + where, trace
    if failure is not None:
        return 'failed', detail, trace
    if stopped:
        return 'stopped', 'by @%s at iteration %d' % stopped
    if run is not None and run.interrupted():
        return 'interrupted', type(sys.exc_info()[1]).__name__
    return 'completed',


def _describe_failure(exc, tb):
    """The status detail (the message's first line, shortened) and, for
    the thread, the last frames and the whole message."""
    lines = [_inert(line) for line in str(exc).splitlines() if line.strip()]
    detail = type(exc).__name__ + (': ' + lines[0].strip() if lines else '')
    if len(detail) > _DETAIL_LENGTH:
        detail = detail[:_DETAIL_LENGTH - 1] + '\u2026'
    trace = ''.join(traceback.format_tb(tb)[-_TRACE_FRAMES:] +
                    traceback.format_exception_only(type(exc), exc))
    return detail, trace.rstrip()


class _Run(object):
    """What a report reads of a running trainer: set up once, so that each
    snapshot only copies a few numbers."""

    def __init__(self, trainer, log_report, resumed):
        self._trainer = trainer
        self._log_source = trainer.get_extension(log_report) if isinstance(
            log_report, str) else log_report
        self._resumed = resumed
        self._handled_before = sys.exc_info()[1]
        length = getattr(trainer.stop_trigger, 'get_training_length', None)
        self._length, self._unit = length() if length else (None, None)
        now = time.time()
        try:
            self._clock = trainer.elapsed_time - now  # elapsed: time + this
        except RuntimeError:  # called before Trainer.run, as tests do
            self._clock = -now
        self._start = (self._done(), now)

    def _done(self):
        updater = self._trainer.updater
        return updater.iteration if self._unit == 'iteration' else \
            updater.epoch_detail

    def snapshot(self, kind, detail, trace, answers):
        now, log = time.time(), self._log_source.log
        return _State(kind, detail, trace, self._resumed, now + self._clock,
                      self._length and (self._done(), self._length) +
                      self._start, log, len(log), now, answers)

    def finished(self):
        """Whether training reached the end its stop trigger names."""
        return self._length is not None and self._done() >= self._length

    def where(self):
        return 'at iteration %d' % self._trainer.updater.iteration

    def interrupted(self):
        """Whether a BaseException such as KeyboardInterrupt (on_error sees
        the others) propagates now that was not being handled at the start."""
        exc = sys.exc_info()[1]
        return exc is not None and exc is not self._handled_before


# Rows after which an entry the log lacks is likely misnamed: two epochs
# in (an evaluator's entries come at the first's end), or at the end.
_LOGGED_ROWS, _LOGGED_EPOCHS = 3, 2


class _Unlogged(object):
    """One warning for the entries the log still lacks after its first
    rows, each with the nearest it holds: a typo shows at once, not as a
    blank column for the whole run."""

    def __init__(self, entries):
        self._entries = entries
        self._checked = False

    def check(self, state):
        log, rows = state.log, state.rows
        if self._checked or rows < _LOGGED_ROWS:
            return
        if not _ended(state) and log[rows - 1].get(
                'epoch', 0) < _LOGGED_EPOCHS:
            return  # an evaluator's entries may come yet
        self._checked = True
        logged = set().union(*log[:rows])
        missing = [_nearest(e, logged) for e in self._entries
                   if e not in logged]
        if missing:
            _warn_quietly('entries not in the log after %d rows, shown blank'
                          ': %s; check their names (LogReport logs what '
                          'the model reports)' % (rows, '; '.join(missing)))


def _nearest(entry, logged):
    """``entry``, and the names in ``logged`` closest to it."""
    near = difflib.get_close_matches(entry, sorted(
        name for name in logged if isinstance(name, str)), 3)
    if not near:
        return '%r (nothing like it)' % entry
    return '%r (nearest: %s)' % (entry, ', '.join(map(repr, near)))


_ANSWERS = 8  # answers to commands a state carries, the newest
_CUT_OFF = ('Not done: %s would reach this rank alone of the %d MPI '
            'processes (the others would hang). Register SlackReport on '
            'every rank with comm= (a ChainerMN communicator) to stop or '
            'snapshot this run from here.')


class _Commands(object):
    """The trainer's stop trigger, wrapped in ``initialize`` (Trainer.run
    reads it after every extension's): a command from the run's thread, as
    the sender publishes it (or as the ranks agreed at the last report,
    under ChainerMN), acts at the next iteration, on the training thread.
    Other attributes (serialize, get_training_length) are the trigger's."""

    def __init__(self, trainer, outbox, comm, report):
        self._trigger, self._trainer = trainer.stop_trigger, trainer
        self._outbox, self._comm, self._report = outbox, comm, report
        self._seen = self._agreed = None  # the command acted on; agreed on
        # Under MPI without comm, the other ranks are out of reach: a stop
        # or a snapshot of this rank alone would hang or split them.
        self._cut_off = _mpi_world(comm)
        self.stopped = None  # (who, iteration), once stopped
        self.answers = ()  # (the command's ts, what was done), the newest
        trainer.stop_trigger = self

    def __getattr__(self, name):
        if name.startswith('_'):  # not set yet: not the trigger's
            raise AttributeError(name)
        return getattr(self._trigger, name)

    def __call__(self, trainer):
        command = self._agreed if self._comm else self._learned_command()
        if command != self._seen:  # by value: a rank gets a copy each time
            self._act(command)
        return self.stopped is not None or self._trigger(trainer)

    def agree(self):
        """At a report: under ChainerMN every rank takes rank 0's command,
        so that all act at the same iteration (or the others would hang).
        Every rank calls it at the same reports. ChainerMN asserts that the
        root sends an object and the others None: no command is []."""
        if self._comm is not None:
            mine = self._learned_command()
            sent = list(mine or ()) if self._comm.rank == 0 else None
            agreed = self._comm.bcast_obj(sent, root=0)
            self._agreed = tuple(agreed) if agreed else None

    def _learned_command(self):
        """The newest command the sender read (None before it starts)."""
        return self._outbox.learned().command

    def _act(self, command):
        self._seen = command
        if command is None:
            return
        when, word, who = command
        iteration = self._trainer.updater.iteration
        if self._cut_off:
            done = _CUT_OFF % (word, self._cut_off[1])
        elif word == 'stop':
            self.stopped = who, iteration
            done = 'Stopping at iteration %d, as @%s asked.' % (
                iteration, _escape(who))  # named: they know, no ping
        else:
            done = _take_snapshots(self._trainer, who)
        self.answers = (self.answers + ((when, done),))[-_ANSWERS:]
        self._report('training')  # the answer goes out now


def _take_snapshots(trainer, who):
    """Every snapshot extension's snapshot, now; what was done, to say."""
    taken, iteration = [], trainer.updater.iteration
    try:
        for entry in list(trainer._extensions.values()):  # none is public
            snapshot = entry.extension
            if isinstance(snapshot, _extensions._snapshot._Snapshot):
                snapshot(trainer)
                name = snapshot.filename
                taken.append(name(trainer) if callable(name) else
                             name.format(trainer))
    except Exception as error:  # the run goes on: only said
        return _escape('Snapshot failed at iteration %d: %s: %s' % (
            iteration, type(error).__name__, error))
    if not taken:
        return ('No snapshot extension on this trainer (extensions.snapshot '
                'or snapshot_object): nothing written.')
    return '%s written to %s at iteration %d, as @%s asked.' % (
        _escape('Snapshot ' + ', '.join(taken)), _escape(os.path.join(
            trainer.out, '')), iteration, _escape(who))


# Schedulers end jobs with these (a lost terminal: SIGHUP), then SIGKILL
# after 30 s by default: a termination's report gets this many seconds. A
# scheduler may end or warn by others too (its table's signals).
_ENDING_SIGNALS = ('SIGTERM', 'SIGHUP')
_SIGNAL_GRACE = 10.0


def _signals_of(job):
    """{signal number: the notice it gives, '' for an ending} that ``job``'s
    scheduler sends, those this platform has."""
    named = dict.fromkeys(_ENDING_SIGNALS, '')
    named.update(job.scheduler.signals if job else {})
    return {getattr(signal, name): notice for name, notice in named.items()
            if hasattr(signal, name)}


class _SignalGuard(object):
    """The one handler of the signals that end or warn jobs, however many
    reports train: each reports ``[Terminated]`` within one grace, then the
    signal acts once as without them (the program's handler, or death by
    it). A notice the program handles itself only shows in the status.
    Installed from the main thread while reports train; restored after.
    Each report registers its _Course, which does what a signal asks.
    """

    def __init__(self):
        self._reports = []
        self._previous = {}
        self._notices = {}
        self._job = None  # what the scheduler told of the job

    def add(self, report, job):
        """Handle the signals for ``report`` (a _Course), in ``job``."""
        if threading.current_thread() is not threading.main_thread():
            return
        if not self._reports:
            self._notices, self._job = _signals_of(job), job
            for signum in self._notices:
                previous = signal.getsignal(signum)
                if previous not in (signal.SIG_IGN, None):  # None: not ours
                    self._previous[signum] = previous
                    signal.signal(signum, self._handle)
        self._reports.append(report)

    def remove(self, report):
        if report in self._reports:
            self._reports.remove(report)
            if not self._reports:
                self._restore()

    def _restore(self):
        for signum, previous in self._previous.items():
            if signal.getsignal(signum) == self._handle:  # not replaced
                signal.signal(signum, previous)
        self._previous = {}

    def _handle(self, signum, frame):
        notice, job = self._notices.get(signum, ''), self._job
        description = signal.Signals(signum).name + (
            ' (%s)' % notice if notice else '')
        if job:
            description += ', %s job %s' % (job.scheduler.name, job.name)
        previous = self._previous.get(signum, signal.SIG_DFL)
        reports = list(self._reports)
        # A notice the program handles is only told; else the signal ends
        # the run, and however it ends now, it was cut short.
        ending = not (notice and callable(previous))
        for report in reports:
            report.signalled(description, ending)
        if callable(previous):
            # The program's own handler decides how the run ends; each
            # report's finalize tells the termination.
            return previous(signum, frame)
        self._reports = []
        self._restore()
        for report in reports:  # one amid its end goes on, within the grace
            report.cut_short()
        for report in reports:  # registered with a sender: see _start
            report.join()
        os.kill(os.getpid(), signum)  # now the default: ends as it would


_SIGNALS = _SignalGuard()
###############################################################################
# The message: a _State into Slack text #######################################
###############################################################################

def _clean(text):
    """Bytes that are not UTF-8 (LANG=C, a Latin-1 name) arrive as lone
    surrogates, which cannot be sent: decode them, else replace them."""
    return text.encode('utf-8', 'surrogateescape').decode('utf-8', 'replace')


def _escape(text):
    """Escape the three characters Slack reads as markup."""
    return _clean(text).replace('&', '&amp;').replace('<', '&lt;').replace(
        '>', '&gt;')


def _units(text):
    """Length in UTF-16 code units: the safe way to count Slack's limit."""
    return len(text.encode('utf-16-le')) // 2


def _shorten(raw, limit, keep_end=False):
    """Escape ``raw`` and cut it with an ellipsis to ``limit`` units, keeping
    its start (or end); never inside an escape or a surrogate pair."""
    raw = _clean(raw)
    escaped = _escape(raw)
    if _units(escaped) <= limit:
        return escaped
    if limit < 1:
        return ''
    used, kept = 1, []  # the ellipsis takes one unit
    for char in reversed(raw) if keep_end else raw:
        piece = _escape(char)
        used += _units(piece)
        if used > limit:
            break
        kept.append(piece)
    if keep_end:
        return '\u2026' + ''.join(reversed(kept))
    return ''.join(kept) + '\u2026'


def _format_elapsed(seconds):
    minutes, seconds = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return '%d:%02d:%02d' % (hours, minutes, seconds)


def _date(seconds):
    """A time Slack shows in each reader's zone, with a UTC fallback."""
    return '<!date^%d^{date_short_pretty} {time}|%s>' % (
        seconds, time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime(seconds)))


def _shown_date(match):
    """A ``<!date>`` as Slack shows it to a reader here (local time); its
    fallback where it uses a token this does not know."""
    when = time.localtime(int(match.group(1)))
    days = (datetime.date(*when[:3]) - datetime.date.today()).days
    pretty = {-1: 'yesterday', 0: 'today', 1: 'tomorrow'}.get(
        days, time.strftime('%b %d', when).replace(' 0', ' '))
    known = {'{date_short_pretty}': pretty,
             '{time}': time.strftime('%H:%M', when)}
    tokens = re.compile(r'\{\w+\}')
    if not set(tokens.findall(match.group(2))) <= set(known):
        return match.group(3)
    return tokens.sub(lambda token: known[token.group()], match.group(2))


def _preview(text):
    """Slack text as a reader sees it, for a terminal: dates in local time,
    links and mentions by their label, escapes undone."""
    text = re.sub(r'<!date\^(\d+)\^([^|>]*)\|([^>]*)>', _shown_date, text)
    text = re.sub(r'<[^|>]*\|([^>]*)>', r'\1', text)
    text = re.sub(r'<[@!](?:subteam\^)?([^>]*)>', r'@\1', text)
    return text.replace('&lt;', '<').replace('&gt;', '>').replace('&amp;',
                                                                  '&')


def _marker(report_ts):
    """Ends a scheduled reply: its thread (Slack's list does not say)."""
    return ' (report %s)' % report_ts


def _mark_of(text):
    """The mark (_marker) a scheduled reply's ``text`` ends with."""
    return text[text.rindex(' (report '):]


def _progress(state, width=20):
    """A bar, a percentage and, while training, the ETA at the speed seen
    since the start; '' when the length is unknown."""
    done, length, start_done, start_time = state.progress
    if not length:
        return ''
    fraction = min(1.0, max(0.0, done / length))
    filled = int(fraction * width)
    text = '%s%s %3d%%' % ('\u2588' * filled, '\u2591' * (width - filled),
                           fraction * 100)
    spent, gained = state.time - start_time, done - start_done
    if spent > 0 and gained > 0 and fraction < 1 and not _ended(state):
        text += '  ETA %s' % _format_elapsed((length - done) * spent / gained)
    return text


def _status_text(state, note=''):
    """The status, escaped: who stopped the run is named, not notified (the
    end notifies the finish_mentions people, as for any ending)."""
    return _escape(_status(state, note))


def _status(state, note=''):
    """``[Training]``, ``[Failed] ValueError: ...``, ``[Completed, resumed]``
    and so on: a resumed run says so for its whole life; while it trains,
    the ``note`` of values gone NaN or infinite."""
    label = _KINDS[state.kind].label
    if state.resumed:
        label = 'Resumed' if state.kind == 'started' else label + ', resumed'
    detail = state.detail or ('' if _ended(state) else note)
    return '[%s]%s' % (label, ' ' + detail if detail else '')


# Length normalizers. Each takes the cost of every line it may choose from
# (UTF-16 units once escaped, newline included) and a budget, and returns
# the indices of the lines to keep, in order: at least one, as a lone line
# that does not fit is shortened by the caller.

def _fifo(costs, budget):
    """Drop the oldest lines."""
    first = len(costs)
    while first > 0 and costs[first - 1] <= budget:
        first -= 1
        budget -= costs[first]
    return list(range(min(first, len(costs) - 1), len(costs)))


def _lifo(costs, budget):
    """Stop adding new lines once the budget is used."""
    end = 0
    while end < len(costs) and costs[end] <= budget:
        budget -= costs[end]
        end += 1
    return list(range(max(end, 1)))


def _thin_out(costs, budget):
    """Keep the first and newest lines and every k-th between, k the least
    that fits: the search starts where the cheapest line's cost allows and,
    as table lines are about as wide, ends within a step or two."""
    if sum(costs) <= budget:
        return list(range(len(costs)))
    last = len(costs) - 1
    if last < 1 or costs[0] + costs[last] > budget:
        return _fifo(costs, budget)
    most = (budget - costs[last]) // min(costs)
    step = max(2, -(-last // most))
    while sum(costs[0:last:step]) + costs[last] > budget:
        step += 1
    return list(range(0, last, step)) + [last]


# Each with the lines of a long table it may show, which are all the table
# keeps: the newest or oldest that fill a message, or an even sample.
_NORMALIZERS = {'thin_out': ('sample', _thin_out), 'fifo': ('newest', _fifo),
                'lifo': ('oldest', _lifo)}


def _normalizer(name):
    normalizer = _NORMALIZERS.get(str(name).lower())
    if normalizer is None:
        raise ValueError('len_normalizer %r is unknown; accepted: %s'
                         % (name, _NORMALIZER_NAMES))
    return normalizer


def _compile_template(template, known, hide):
    """``template`` with placeholders not in ``known`` kept as written, and
    the known ones it uses; a ValueError now, not at the first report (a
    warning, its secrets hidden by ``hide``, for the unknown ones)."""
    if not isinstance(template, str):
        raise TypeError('template must be a str, not %r' % (template,))
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError as error:
        raise ValueError('template %r is not valid str.format syntax (%s); '
                         'write a literal brace as {{ or }}'
                         % (template, error))
    pieces, unknown, used = [], [], []
    for literal, field, spec, conversion in parsed:
        pieces.append(literal.replace('{', '{{').replace('}', '}}'))
        if field is None:
            continue
        written = '{%s%s%s}' % (field, '!' + conversion if conversion else '',
                                ':' + spec if spec else '')
        if field in known and '{' not in spec:
            pieces.append(written)
            used.append(field)
        else:
            unknown.append(written)
            pieces.append(written.replace('{', '{{').replace('}', '}}'))
    compiled = ''.join(pieces)
    try:  # conversions and format specs fail only when applied
        compiled.format_map(dict.fromkeys(known, ''))
    except ValueError as error:
        raise ValueError('template %r cannot be formatted: %s'
                         % (template, error))
    if unknown:
        _warn('template placeholders %s are unknown and are kept as written; '
              'known ones: %s' % (', '.join(unknown), ', '.join(known)),
              hide, 4)
    return compiled, used


_FENCE = '```'


def _inert(text):
    """``text`` for inside a code block: no two backticks side by side
    (a zero-width space between), so none closes the block."""
    return re.sub('`(?=`)', '`\u200b', text)


def _printed(line):
    """A table line as the terminal shows it: PrintReport's erase sequence
    and trailing blanks gone; inert in the table's code block."""
    return _inert(line.replace('\033[J', '').rstrip())


class _Table(object):
    """The stream PrintReport writes to (an append, on the training thread),
    and what a message can show of it. Lines are split when rendered, each
    measured once, and only what the normalizer can show is kept: the newest
    or oldest that fill ``max_length``, or every ``stride``-th, the stride
    doubling as they fill. So memory and time stay flat however long the run.
    """

    def __init__(self, normalizer, max_length):
        self._keep, self._choose = normalizer
        self._max_length = max_length
        self._header = self._newest = None
        self._count = self._units = 0  # lines split; units of those kept
        self._kept = collections.deque()  # (index, line, units), in order
        self._stride, self._partial = 1, ''
        self._lock = threading.Lock()  # the sender and .message both render
        self._written = []
        self.write = self._written.append

    def flush(self):
        if len(self._written) > 4096:
            self._split()

    def _split(self, rows=None):
        """Take the lines written, up to ``rows`` of them if given."""
        with self._lock:
            count = len(self._written)  # appends may go on meanwhile
            text = self._partial + ''.join(self._written[:count])
            del self._written[:count]
            *complete, self._partial = text.split('\n')
            if rows is not None:  # the rest waits for a newer state
                header = 1 if self._header is None else 0  # not a row
                room = max(0, rows - self._count + header)
                self._partial = '\n'.join(complete[room:] + [self._partial])
                del complete[room:]
            if self._header is None and complete:
                self._header = _printed(complete.pop(0))
            # FIFO keeps at most the last max_length lines of a batch.
            skip = max(0, len(complete) - self._max_length) if (
                self._keep == 'newest') else 0
            self._count += skip
            for line in complete[skip:]:
                self._take(_printed(line))

    def _take(self, line):
        index, self._newest = self._count, (self._count, line)
        self._count += 1
        if self._keep == 'oldest' and self._units >= self._max_length or (
                self._keep == 'sample' and index % self._stride):
            return  # not kept: not measured either
        entry = (index, line, _units(_escape(line)) + 1)
        self._kept.append(entry)
        self._units += entry[2]
        while self._keep == 'newest' and (
                self._units - self._kept[0][2] >= self._max_length):
            self._units -= self._kept.popleft()[2]
        if self._keep == 'sample' and len(self._kept) > self._max_length:
            self._stride *= 2
            self._kept = collections.deque(
                e for e in self._kept if not e[0] % self._stride)

    def _shown(self, rows):
        """The lines kept among the first ``rows``, the newest included."""
        lines = [entry for entry in self._kept if entry[0] < rows]
        index, line = self._newest or (None, None)
        if index == rows - 1 and (not lines or lines[-1][0] != index):
            lines.append((index, line, _units(_escape(line)) + 1))
        return lines

    def render(self, rows, budget):
        """The header and the first ``rows`` lines in a code block of at
        most ``budget`` units: as many lines as fit, and never a fence cut
        open (no block at all if not even the header fits)."""
        self._split(rows)
        if self._header is None:
            return ''
        lines = self._shown(rows)
        budget -= len(_FENCE) * 2 + 1  # "```\n" ... "```"
        header = _shorten(self._header, budget - 1)
        budget -= _units(header) + 1
        if budget < 0 or not header:
            return ''
        kept = [header]
        if lines:
            costs = [cost for _, _, cost in lines]
            chosen = self._choose(costs, budget)
            kept.extend(_escape(lines[i][1]) for i in chosen)
            if len(chosen) == 1 and costs[chosen[0]] > budget:
                kept[1:] = [_shorten(lines[chosen[0]][1], budget - 1)]
                if not kept[1]:
                    del kept[1]
        return '%s\n%s\n%s' % (_FENCE, '\n'.join(kept), _FENCE)

    def least(self, rows):
        """Units of the smallest block worth showing: header and newest
        line (``render`` gives way below it, this only measures)."""
        self._split(rows)
        if self._header is None:
            return 0
        lines = self._shown(rows)
        return (len(_FENCE) * 2 + 2 + _units(_escape(self._header)) +
                (lines[-1][2] if lines else 0))


_NOT_TRENDS = ('epoch', 'iteration', 'elapsed_time')  # the counters


def _trended(entries):
    """The ``entries`` with trends: not the counters."""
    return [e for e in entries if e not in _NOT_TRENDS]


class _Trends(object):
    """Each numeric entry's latest and best values (highest if maximized)
    and an even sample, each observation read once, the sample's stride
    doubling as it fills: time and memory stay flat however long the log.
    """

    _BARS = '\u2581\u2582\u2583\u2584\u2585\u2586\u2587\u2588'
    _SAMPLE = 128  # points kept of each entry, at most

    def __init__(self, entries, maximize='auto', alert_when=None,
                 nonfinite=True, width=16):
        self.entries = _trended(entries)
        self.higher = _maximized(entries, maximize)
        self._conditions = _alert_conditions(alert_when or {}, entries)
        self._nonfinite = nonfinite
        self.fired = collections.OrderedDict()  # what to alert of, once
        self.note = ''  # the values gone NaN or infinite, for the status
        self.counter = 'iteration' if 'iteration' in entries and (
            'epoch' not in entries) else 'epoch'
        self._width = width
        self._latest, self._best = {}, {}  # entry -> (value, x)
        self._samples = {e: [] for e in self.entries}  # (x, value)
        self._taken = dict.fromkeys(self.entries, 0)  # values seen
        self._strides = dict.fromkeys(self.entries, 1)
        self._seen = 0
        self._lock = threading.Lock()

    def _better(self, entry, value, than):
        """Whether ``value`` beats ``than`` (the first of equals stays)."""
        return value > than if entry in self.higher else value < than

    @staticmethod
    def _number(observation, entry, finite=True):
        try:
            value = float(observation[entry])
        except (KeyError, TypeError, ValueError):
            return None
        return value if not finite or math.isfinite(value) else None

    def _take(self, log, rows):
        with self._lock:
            for index in range(self._seen, rows):
                observation = log[index]
                x = self._number(observation, self.counter)
                x = index + 1 if x is None else x
                for entry in self.entries:
                    value = self._number(observation, entry, finite=False)
                    if value is None:
                        continue
                    finite = math.isfinite(value)
                    if finite:
                        self._keep(entry, value, x)
                    if not finite or entry in self._conditions:
                        self._watch(entry, value, x)
            self._seen = max(self._seen, rows)
            return dict(self._latest), dict(self._best)

    def _watch(self, entry, value, x):
        """Note, once each, a value gone NaN or infinite, and the entry's
        condition met (``alert_when``)."""
        where = '%s %s' % (self.counter, _number_text(x))
        if not math.isfinite(value):
            key = '%s %s' % (entry, value)
            if self._nonfinite and key not in self.fired:
                self.fired[key] = '%s is %s since %s' % (entry, value, where)
                self.note = '; '.join(filter(None, (self.note,
                                                    self.fired[key])))
            return
        condition, test, threshold = self._conditions[entry]
        key = '%s %s' % (entry, condition)
        if test(value, threshold) and key not in self.fired:
            self.fired[key] = '%s: %.4g at %s' % (key, value, where)

    def _keep(self, entry, value, x):
        self._latest[entry] = value, x
        best = self._best.get(entry)
        if best is None or self._better(entry, value, best[0]):
            self._best[entry] = value, x
        taken, self._taken[entry] = self._taken[entry], self._taken[entry] + 1
        if not taken % self._strides[entry]:
            samples = self._samples[entry]
            samples.append((x, value))
            if len(samples) > self._SAMPLE:
                self._strides[entry] *= 2
                del samples[1::2]

    def _points(self, entry, count):
        """At most ``count`` evenly spaced (x, value) of ``entry``, the
        latest last."""
        with self._lock:
            value, x = self._latest[entry]
            points = self._samples[entry][:]
        if points[-1] != (x, value):
            points.append((x, value))
        count = min(count, len(points))
        step = (len(points) - 1) / max(1, count - 1)
        return [points[int(round(i * step))] for i in range(count)]

    def numbers(self, log, rows, curves=True):
        """Each entry's latest and best, where, whether higher is better,
        and its curve in a few dozen points."""
        latest, best = self._take(log, rows)
        return collections.OrderedDict((entry, dict(
            latest=_round(latest[entry][0]), best=_round(best[entry][0]),
            at=best[entry][1], higher=entry in self.higher, curve=[
                [x, _round(v)] for x, v in self._points(entry, _CURVE)]
            if curves else [])) for entry in self.entries if entry in latest)

    def picture(self, log, rows):
        """PNG bytes of the curves, a panel per entry and its validation/
        twin; None without numbers."""
        best = self._take(log, rows)[1]
        if not best:
            return None
        columns = _Columns(log, rows, self.counter)
        panels = collections.OrderedDict()
        for entry in (e for e in self.entries if e in best):
            quantity = entry[len('validation/'):] if entry.startswith(
                'validation/') else entry
            panel = panels.setdefault(quantity, [])
            reduced = columns.reduce(entry)
            if reduced:  # its best may lie past rows, in a newer state
                panel.append(_Series(entry, _PALETTE[len(panel)], reduced,
                                     best[entry][::-1], 2))
        return _draw([p for p in panels.values() if p], columns.x_range,
                     self.counter)

    def render(self, log, rows):
        """The trends of the first ``rows`` observations of ``log``."""
        latest, best = self._take(log, rows)
        name_width = max([len(e) for e in latest] or [0])
        lines = []
        for entry in (e for e in self.entries if e in latest):
            values = [v for _, v in self._points(entry, self._width)]
            # Halved, so that a range such as -1e308..1e308 cannot overflow;
            # flat where the spread is below a millionth of the values.
            low, high = min(values) / 2, max(values) / 2
            flat = not high - low > 1e-6 * max(abs(low), abs(high))
            spark = ''.join(self._BARS[0 if flat else int(
                (v / 2 - low) / (high - low) * 7)] for v in values)
            value, at = best[entry]
            lines.append('%-*s  %-*s  %-10.4g  best %.4g @ %s %s' % (
                name_width, entry, self._width, spark, latest[entry][0],
                value, self.counter, _number_text(at)))
        return '\n'.join(lines)


_CURVE = 24  # points of each entry's curve in a run's card


def _round(value):
    """Four significant digits, enough for a card and a sixth its size."""
    return float('%.4g' % value)


def _number_text(value):
    return '%d' % value if float(value).is_integer() else '%.4g' % value


_CONTENT_MARK = '\x00'  # stands for {content} while the rest is measured
_EMPTY_MARK = '\x01'  # an empty value, gone with its blanks once formatted


# A line of nothing but empty values, and an empty value with the blanks
# that set it apart (those after it, else those before it).
_EMPTY_LINE = re.compile('(?m)^[ \t]*%s[ \t%s]*\n' % ((_EMPTY_MARK,) * 2))
_EMPTY_VALUE = re.compile('%s[ \t]+|[ \t]*%s' % ((_EMPTY_MARK,) * 2))


def _collapse(text):
    """Drop empty values with their blanks; the template's other blanks
    stay."""
    return _EMPTY_VALUE.sub('', _EMPTY_LINE.sub('', text))


class _Message(object):
    """Renders a _State into Slack text: the template with escaped values,
    the table in what room is left, and the mentions (names resolved by the
    sender as ``user_ids``: lower-cased name -> ID; None while unknown).
    """

    def __init__(self, template, fields, identity, table, trends, max_length,
                 mentions, card):
        self._template, self._fields = template, fields  # as compiled
        self._card = card  # what stays fixed of the run's card
        self._identity, self._table, self._trends = identity, table, trends
        self.fired = trends.fired  # what to alert of (sender's thread)
        self._max_length = max_length
        self._markup, self.names = mentions
        self._failed = set()  # the optional parts that failed once
        self.metadata = self._curves = True  # until Slack refuses them
        self._content_uses = fields.count('content')
        self._shrinkable = set(fields) - {'content', 'finish_mentions',
                                          'updated'}
        # The longest the mentions can become: fail now, not at the end.
        self.render(_State('completed'), dict.fromkeys(
            (n.lower() for n in self.names), 'U0123456789'))

    def card(self, state):
        """The run for a program to read (its messages' metadata): ranked
        by ``rank_by``, else the first validation/ entry with numbers."""
        numbers = self._guarded("the card's numbers", {}, self._trends.numbers,
                                state.log, state.rows, self._curves)
        rank_by = self._card['rank_by'] or next((
            e for e in numbers if e.startswith('validation/')), next(
                iter(numbers), ''))
        # The ranking entry first, with the only curve a sweep draws.
        entries = collections.OrderedDict(
            (name, dict(numbers[name], curve=[])) for name in numbers)
        if rank_by in numbers:
            entries[rank_by] = numbers[rank_by]
            entries.move_to_end(rank_by, last=False)
        return dict(self._card, rank_by=rank_by, status=state.kind,
                    detail=state.detail, updated=int(state.time),
                    elapsed=int(state.elapsed), entries=entries,
                    counter=self._trends.counter)

    def refused(self):
        """Slack refused the metadata (too large?): send less, then none;
        whether any is still sent."""
        self.metadata, self._curves = self.metadata and self._curves, False
        return self.metadata

    def mentions(self, user_ids):
        """The mentions' markup; names not (yet) resolved as plain text."""
        if user_ids is None:
            return self._markup + [_escape('@' + n) for n in self.names]
        found = ['<@%s>' % user_ids[n.lower()] for n in self.names
                 if n.lower() in user_ids]
        # Once: a person may be given both by ID and by name.
        return list(collections.OrderedDict.fromkeys(self._markup + found))

    def reply(self, state, user_ids, silent_since=None, report_ts=None,
              quiet=False):
        """The end's thread reply (mentions unless ``quiet``, status, a
        failure's trace; None without any), or the one Slack posts if no
        report came after ``silent_since``; and whether to broadcast it (a
        thread ignores @here, @channel, @everyone)."""
        markup = [] if quiet else self.mentions(user_ids)
        broadcast = any(m in ('<!here>', '<!channel>', '<!everyone>')
                        for m in markup)
        status = _status_text(state)
        if silent_since is not None:
            status = ('No report from this run since %s: it may have been '
                      'killed (out of memory, SIGKILL, a node failure) or be '
                      'hung. Its last status: %s%s' % (
                          _date(silent_since), status, _marker(
                              report_ts or '%(hostname)s pid %(pid)s'
                              % self._identity)))
        elif state.trace:
            status += '\n%s\n%s\n%s' % (_FENCE, _shorten(
                _inert(state.trace), _TRACE_LENGTH, keep_end=True), _FENCE)
        elif not markup:
            return None, False
        return ' '.join(markup + [status]), broadcast

    def _guarded(self, part, default, render, *args):
        """A part that fails on odd data is left out, with one warning."""
        try:
            return render(*args)
        except Exception as error:
            if part not in self._failed:
                self._failed.add(part)
                _warn_quietly('slack_report leaves %s out of the message: '
                              '%s: %s' % (part, type(error).__name__, error))
            return default

    def _optional(self, name, render, *args):
        return self._guarded('{%s}' % name, '', render, *args) if (
            name in self._fields) else ''

    def picture(self, state):
        """The run's curves as PNG bytes, or None (no numbers yet)."""
        return self._guarded('the picture', None, self._trends.picture,
                             state.log, state.rows)

    def render(self, state, user_ids, quiet=False):
        """The text for ``state``, never empty (Slack refuses that)."""
        text = self._fill(state, user_ids, quiet)
        return text if text.strip() else _escape(_status(state))

    def _fill(self, state, user_ids, quiet):
        raw = dict(self._identity, status=_status(state, self._trends.note),
                   elapsed=_format_elapsed(state.elapsed),
                   progress=self._optional('progress', _progress, state)
                   if state.progress else '',
                   trends=self._optional('trends', self._trends.render,
                                         state.log, state.rows))
        escaped = {key: _escape(raw[key]) for key in self._shrinkable}
        escaped['status'] = _status_text(state, self._trends.note)
        escaped['content'] = _CONTENT_MARK
        escaped['updated'] = _date(state.time)
        escaped['finish_mentions'] = ' '.join(self.mentions(user_ids)) if (
            _KINDS[state.kind].notifies and not quiet) else ''
        escaped = {key: v or _EMPTY_MARK for key, v in escaped.items()}
        # Room for the fence, the table's header and its newest line comes
        # first; past that, the longest substituted values give way.
        reserve = self._content_uses and self._table.least(state.rows)
        while True:
            parts = _collapse(self._template.format_map(escaped)).split(
                _CONTENT_MARK)
            spare = self._max_length - reserve * self._content_uses - sum(
                map(_units, parts))
            if spare >= 0:
                break
            key = max(self._shrinkable, key=lambda k: _units(escaped[k]),
                      default=None)
            length = _units(escaped[key]) if key else 0
            if length <= 1:
                if reserve:  # values are gone; let the table give way
                    reserve = 0
                    continue
                raise ValueError(
                    'the template alone is longer than max_length=%d '
                    'characters; shorten it' % self._max_length)
            escaped[key] = _shorten(raw[key], max(1, length + spare))
        if len(parts) == 1:
            return parts[0]
        room = self._max_length - sum(map(_units, parts))
        content = self._table.render(state.rows, room // (len(parts) - 1))
        return content.join(parts)

###############################################################################
# Slack: the client, its errors, a posted message #############################
###############################################################################

# Everything below calls Slack through _SlackClient alone; it knows
# Slack's errors and which pass (_fix_for, _SlackError), and _Posted
# keeps one message (or reply) as Slack holds it.


# What to do about an error: slow down, retry (Slack's pages say these pass),
# or post anew (gone or frozen). Others are fatal: one warning with its fix.
_ERROR_KINDS = {error: kind for kind, errors in (
    ('slow_down', 'ratelimited rate_limited message_limit_exceeded'),
    ('retry', 'internal_error service_unavailable fatal_error request_timeout '
              'update_failed team_added_to_org org_login_required '
              'external_channel_migrating restricted_too_many time_in_past '
              'time_too_far'),
    ('gone', 'message_not_found cant_update_message edit_window_closed'),
) for error in errors.split()}
_END_READS = 3  # reads a run's end may make for its sweep once its result
# is out, 429s included (finding the sweep, when the run's first post is
# its end, comes before it and is bounded by flush_timeout alone)
_APP_PAGE = 'your app at https://api.slack.com/apps'
_FIXES = {
    'invalid_auth': 'the token is not valid: use the Bot User OAuth Token '
                    '(xoxb-...) from OAuth & Permissions of ' + _APP_PAGE,
    'not_authed': 'no token reached Slack: check SLACK_ACCESS_TOKEN',
    'token_revoked': 'the token was revoked: reinstall ' + _APP_PAGE +
                     ' and use its new token',
    'token_expired': 'the token expired: use a fresh one from ' + _APP_PAGE,
    'account_inactive': 'the app or its user was deactivated: reinstall ' +
                        _APP_PAGE,
    'missing_scope': 'add the %s scope to ' + _APP_PAGE +
                     ' and reinstall it',
    'channel_not_found': 'check the channel ID (in Slack: channel details, '
                         'bottom) and, for a private channel, invite the bot',
    'not_in_channel': 'invite the bot: type /invite @your-app in the channel',
    'is_archived': 'the channel is archived: unarchive it or use another',
    'restricted_action': 'the workspace forbids this app to post there: ask '
                         'an admin',
    'read_budget': 'Slack was too busy to read the sweep back within %d '
                   'calls at the end' % _END_READS,
}
_TRANSIENT = ('slow_down', 'retry')
# The picture needs a scope of its own, and is optional.
_PICTURE_FIX = ('add the files:write scope to ' + _APP_PAGE + ' and '
                'reinstall it, or pass plot=False')


def _fix_for(error, needed):
    """What to do about ``error``, in one sentence."""
    if error == 'missing_scope':
        return _FIXES[error] % (needed if isinstance(needed, str) and re.
                                fullmatch(r'[\w:.,]+', needed) else
                                'chat:write')
    if error in _FIXES:
        return _FIXES[error]
    if 'CERTIFICATE_VERIFY_FAILED' in error or 'SSL' in error:
        return ('TLS verification failed: if a proxy re-signs traffic, point '
                'SSL_CERT_FILE at its CA bundle')
    if ' 407' in error:
        return ('the proxy wants credentials: add user:password@ before its '
                'host in https_proxy')
    if 'Tunnel connection failed' in error or (' 403' in error and
                                                'roxy' in error):
        return ('the proxy (https_proxy) refuses the way there: ask its '
                'admin to allow slack.com and files.slack.com (the '
                "pictures' host), or set api_url to a relay that can reach "
                'them')
    if error.startswith('cannot reach'):
        return ('Slack is unreachable from here: set https_proxy (and '
                'no_proxy), or api_url to a relay that can reach it')
    if error.startswith('api_url redirects'):
        return ("Slack's API never redirects, and the token was not sent "
                'on: check api_url (and any relay or proxy on the way)')
    if error.startswith('HTTP'):
        return 'check api_url and any proxy on the way'
    return 'see https://api.slack.com/methods'


class _SlackError(Exception):
    """A failed call, its ``kind`` (slow_down, retry, gone, fatal), its
    ``cause`` (one warning each, whichever method met it), and whether the
    request got through to something (``connected``)."""

    def __init__(self, error, kind, retry_after=None, connected=True,
                 needed=None, cause=None):
        super(_SlackError, self).__init__(error)
        self.error = error
        self.kind = kind
        self.retry_after = retry_after
        self.connected = connected
        self.needed = needed  # the scope missing_scope names
        self.cause = cause or error

    def fix(self):
        return _fix_for(self.error, self.needed)


_READS = ('conversations.history', 'conversations.replies', 'pins.list')
# Failures after which the connection had been made: something answered.
_ANSWERED = (ConnectionResetError, BrokenPipeError, http.client.HTTPException)
_NOT_JSON = 'the answer to %s was not Slack JSON (a proxy error page?)'


_DEPTH = 32  # levels of JSON read back; values nested deeper read as null
_JSON_PART = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{}]')  # linear


def _loads(text):
    """``text`` parsed as JSON, with what nests deeper than ``_DEPTH`` as
    null: json.loads recurses, and one message nested deep (anyone may post
    one) would fail every read of its page. It then fits no shape: skipped.
    """
    try:
        return json.loads(text)
    except RecursionError:
        pass  # rare: measured only then
    kept, at, start, depth = [], 0, 0, 0
    for part in _JSON_PART.finditer(text):
        mark = part.group()[0]
        if mark in '[{':
            depth += 1
            if depth == _DEPTH + 1:
                start = part.start()
        elif mark in ']}':
            if depth == _DEPTH + 1:
                kept += [text[at:start], 'null']
                at = part.end()
            depth -= 1
    return json.loads(''.join(kept) + text[at:])


def _masked(item, hide):
    """Parsed JSON ``item`` with ``hide`` applied to each string in it."""
    if isinstance(item, dict):
        return {hide(k): _masked(v, hide) for k, v in item.items()}
    if isinstance(item, list):
        return [_masked(v, hide) for v in item]
    return hide(item) if isinstance(item, str) else item


class _Unredirected(urllib.request.HTTPRedirectHandler):
    """Follows no redirect: urllib would carry the Authorization header
    to any host it names, and Slack's API never redirects."""

    def redirect_request(self, *args):
        return None  # the answer stays an HTTPError: see _SlackClient._post


class _SlackClient(object):
    """A minimal Slack Web API client on urllib. The token travels only in
    the Authorization header to the API; proxies come from the environment,
    but never for a loopback URL (no_proxy does not match [::1])."""

    def __init__(self, token, api_url, timeout, hide=None):
        self._token = token
        self._hide = hide or _Secrets(()).hide  # the run's, else the shapes
        self._api_url = api_url
        self.timeout = timeout
        self.answered = False  # whether Slack itself ever answered
        self._reads_left = None  # of the channel, if limited
        self._identity = None
        self._direct = urllib.request.build_opener(
            urllib.request.ProxyHandler({}), _Unredirected).open
        self._proxied = urllib.request.build_opener(_Unredirected).open

    def limit_reads(self, reads):
        """From now on, read the channel ``reads`` times at most (the end
        of a run must not wait on a busy channel); more raise read_budget.
        """
        self._reads_left = reads

    def call(self, method, **params):
        """POST ``method`` with form ``params``; return the decoded answer."""
        if method in _READS and self._reads_left is not None:
            if self._reads_left < 1:
                raise _SlackError('read_budget', 'fatal')
            self._reads_left -= 1
        if 'text' in params:
            params['text'] = self._hide(params['text'])
        if 'metadata' in params:  # each string: a number stays one
            params['metadata'] = json.dumps(_masked(json.loads(
                params['metadata']), self._hide), separators=(',', ':'))
        body = self._post(
            self._api_url + method, method,
            urllib.parse.urlencode(params).encode('utf-8'),
            'application/x-www-form-urlencoded',
            Authorization='Bearer ' + self._token)
        try:
            answer = _loads(body.decode('utf-8'))
            ok = answer['ok']
        except (ValueError, KeyError, TypeError, RecursionError):
            raise _SlackError(_NOT_JSON % method, 'retry', cause=_NOT_JSON)
        self.answered = True
        if not ok:
            error = str(answer.get('error', 'unknown_error'))
            raise _SlackError(error, _ERROR_KINDS.get(error, 'fatal'),
                              needed=answer.get('needed'))
        return answer

    def identity(self):
        """Who the token is (auth.test, asked once): bot_id, url, ..."""
        if self._identity is None:
            self._identity = self.call('auth.test')
        return self._identity

    def pages(self, method, **params):
        """Each page of ``method``'s answer, the first without a cursor."""
        while True:
            answer = self.call(method, **params)
            yield answer
            params['cursor'] = answer.get('response_metadata', {}).get(
                'next_cursor')
            if not params['cursor']:
                return

    def upload(self, channel, thread_ts, filename, title, data):
        """Share ``data`` as a file in a thread: an upload URL, the bytes
        POSTed there (no token), the upload completed."""
        upload = self.call('files.getUploadURLExternal', filename=filename,
                           length=len(data))
        self._post(upload['upload_url'], 'the file upload', data,
                   'application/octet-stream')
        self.call('files.completeUploadExternal', channel_id=channel,
                  thread_ts=thread_ts, files=json.dumps(
                      [{'id': upload['file_id'], 'title': title}]))

    def _post(self, url, what, data, content_type, **headers):
        request = urllib.request.Request(url, data=data, headers=dict(
            headers, **{'Content-Type': content_type,
                        'User-Agent': 'slack_report/' + __version__}))
        local = _is_loopback(urllib.parse.urlsplit(url).hostname)
        try:
            with (self._direct if local else self._proxied)(
                    request, timeout=self.timeout) as answer:
                return answer.read()
        except urllib.error.HTTPError as error:
            error.close()  # the answer's socket, which the error holds
            if error.code == 429:
                self.answered = True
                retry_after = error.headers.get('Retry-After', '')
                raise _SlackError('ratelimited', 'slow_down', float(
                    retry_after) if retry_after.isdigit() else None)
            if 300 <= error.code < 400:
                raise _SlackError('api_url redirects (HTTP %d from %s)' % (
                    error.code, what), 'fatal', cause='redirect')
            raise _SlackError('HTTP %d %s from %s' % (
                error.code, error.reason, what), 'retry' if error.code >= 500
                else 'fatal', cause='HTTP %d' % error.code)
        except (OSError, http.client.HTTPException) as error:
            reason = getattr(error, 'reason', None) or error
            # A CA missing, a name unknown or a proxy refusing: none of
            # these heals within a run.
            lasting = isinstance(reason, (socket.gaierror,
                                          ssl.CertificateError)) or re.search(
                r'CERTIFICATE_VERIFY_FAILED|Tunnel connection failed: 40[37]',
                str(reason))
            # urllib wraps what fails before the request is sent; what
            # fails after (a reset, an answer that never comes) is raw.
            sent = not isinstance(error, urllib.error.URLError)
            raise _SlackError('cannot reach Slack: %s' % (reason,),
                              'fatal' if lasting else 'retry',
                              connected=sent or isinstance(reason, _ANSWERED),
                              cause=type(reason).__name__)


def _cannot_read(warn, error, what, off):
    """A warning that a part of a run (``what``) cannot go on, and how to
    turn it ``off``; one for both parts when the history scope is missing.
    """
    if error.error == 'missing_scope':
        warn('history', 'slack_report cannot read the channel (%s): %s. '
             'Until then no sweep, and no stop or snapshot from the thread '
             '(group=False and controllers=None turn them off).'
             % (error.error, error.fix()))
    else:
        warn(what, '%s (%s): %s, or pass %s.' % (what, error.error,
                                                 error.fix(), off))


_CHANNEL_ID = re.compile('[CG][A-Z0-9]+')  # a name gives no history
_LATE_LOOK = 10.0  # seconds before a post unanswered is looked for again


class _Posted(object):
    """A message (or a reply in ``thread``) as Slack holds it: where, its
    text, whether its post notified, whether the end's reply is out."""

    def __init__(self, client, channel, ts, thread=None):
        self._client = client
        self.channel, self.ts = channel, ts  # the channel's ID once posted
        self._thread = thread
        self._shown = None
        self.notified = self.replied = False
        self.unsure = None  # when a first post went unanswered: landed?
        self._late = None  # when one may have landed after it was looked for
        self._unsure_notified = False  # and whether that post notified

    def show(self, text, notifies=False, metadata=None):
        """Post, or update to ``text`` unless shown, with ``metadata``
        (event type, payload); ``notifies`` holds for a new post only.
        Whether it called Slack."""
        if text == self._shown:
            return False
        params = dict(channel=self.channel, text=text)
        if self._thread and self.ts is None:
            params['thread_ts'] = self._thread
        if metadata:
            params['metadata'] = json.dumps({
                'event_type': metadata[0], 'event_payload': metadata[1]},
                separators=(',', ':'))
        if self.ts is not None:
            self._client.call('chat.update', ts=self.ts, **params)
        else:
            try:
                answer = self._client.call('chat.postMessage', **params)
            except _SlackError as error:
                if error.kind == 'retry' and not self.unsure:
                    self.unsure = time.time()  # Slack may have posted it
                    self._unsure_notified = notifies
                raise
            self.channel, self.ts = answer['channel'], answer['ts']
            self.notified = notifies
        self._shown = text
        return True

    def adopt(self, run, final=False):
        """After a first post went unanswered: take the one Slack posted
        anyway, by the run in its metadata (if the token may read it). If
        none had landed yet, look once more later (at the latest, at the
        end) and delete the one that landed late: one message a run."""
        if not _CHANNEL_ID.fullmatch(self.channel or ''):
            self.unsure = self._late = None
        elif self.ts is None and self.unsure:
            found = self._posts_of(run, self.unsure)
            self.ts = found[0] if found else None
            if self.ts is None:
                self._late = self.unsure
            # The post that landed notified if it was meant to: its
            # mention must not come again as a reply.
            self.notified = self.ts is not None and self._unsure_notified
            self.unsure = None
        elif self._late and self.ts is not None and (
                final or time.time() > self._late + _LATE_LOOK):
            for ts in self._posts_of(run, self._late):
                if ts != self.ts:
                    self._client.call('chat.delete', channel=self.channel,
                                      ts=ts)
            self._late = None

    def _posts_of(self, run, since):
        """This run's messages posted since ``since`` (a minute's margin),
        newest first; none if the token may not read them."""
        try:
            page = next(_read(self._client, 'conversations.history', 1,
                              channel=self.channel,
                              oldest='%.6f' % (since - 60)), [])
        except _SlackError as error:
            if error.kind in _TRANSIENT:
                raise  # look again before posting
            return []
        return [m['ts'] for m in page
                if (_own(self._client, m, _RUN) or {}).get('run') == run]

    def reply(self, text, broadcast, method='chat.postMessage', **params):
        """Post (or schedule) ``text`` in the thread, ``broadcast`` or not."""
        params.update(channel=self.channel, thread_ts=self.ts, text=text)
        if broadcast:
            params['reply_broadcast'] = 'true'
        return self._client.call(method, **params)

    def announce(self, reply, broadcast):
        """Post ``reply`` (if any) to tell of the end, once."""
        if not self.replied and reply is not None:
            self.reply(reply, broadcast)
        self.replied = True

    def forget(self):
        """The message was deleted or frozen: the next ``show`` posts."""
        self.ts = self._shown = None

    def take(self, channel, ts):
        """Go on with the message at ``ts`` (a run's earlier life's)."""
        self.channel, self.ts, self._shown = channel, ts, None

###############################################################################
# Sweeps: a job array's runs compared in the channel ##########################
###############################################################################

# Owns the anchor, entries, results, the closing and the summary;
# calls the client and _Posted. _Sender drives it (enter, follow,
# finish, decide); the command line's --summary reads it too.


# A sweep's protocol. Its messages, all this bot's (no other's count):
# - the anchor (metadata: group, size, and once over the summary's ts):
#   posted by the first task that finds none, pinned while the sweep runs;
#   a run that then sees an older one deletes its own.
# - entries, in the anchor's thread (metadata: the run's card): a run's
#   first message, before its report, kept fresh as its status and the
#   date it counts as silent move (``due``).
# - results, in the thread: a run's final card, the first thing its end
#   posts (a later life of the task posts its own).
# - silence replies, scheduled by each run: in the anchor's thread until
#   its report is out, then in the report's thread, ``due`` at the latest;
#   Slack posts one if the run stops reporting; its end deletes it.
# - the closing, scheduled (text only): the summary, the runs still
#   training counted as silent, or a notice while tasks have not reported.
#   Set by each run's first report and by each ending run from the thread
#   it read (of those ending together the latest stays), pushed back by
#   runs still reporting, deleted once the summary is out.
# - the summary (metadata: group): posted once, by the run whose result
#   is the newest once every task has ended or gone silent; brought up to
#   date in place if a task's later life ends after it.
# Order for one run: entry, silence reply, report, entry (with the link),
# [closing], reports..., result, final report, its mention if it did not
# complete, then the closing or the summary. From any prefix a reader
# concludes: no entry, the task has not reported (the notice names it);
# an entry, it trains until ``due``, then it is silent (and so is its
# message's thread); a result, it ended as that says; a summary's ts in
# the anchor, the sweep is over. A run killed between two calls leaves a
# prefix: its silence reply tells it, and the closing sums the sweep up.
# Invariants, for a sweep of known size: one summary (the closing, or the
# summary that replaces it); every run that posted an entry in it, as its
# result says, else silent; the summary notifies once, a run that did not
# complete once more on its own, a completed or stopped one only through
# the summary. Where it cannot (two messages change, and a kill may land
# between): a run killed between its result and its final report reads
# [Training] with its silence reply while the summary tells its result; one
# killed between its final report and deleting its silence reply has that
# reply posted under its final status; a run whose end cannot read the
# thread (_END_READS) tells its own end, as a run alone does. A closing is
# replaced only by one that knows as many runs and endings (_known).
#
# Reading the channel back, where anyone may write: only this bot's own
# messages count, with a known event type and a payload of the right shape.
_RUN, _ANCHOR, _ENTRY, _RESULT, _SUMMARY = (
    'slack_report_run', 'slack_report_sweep', 'slack_report_entry',
    'slack_report_result', 'slack_report_summary')
_PAGE, _WINDOW = 200, 3  # messages a read asks for; pages read without pins
_THREAD_PAGE = 999  # replies a read of a thread asks for: Slack's most, so
# that a thread flooded by others still reads within the end's reads
_SETTLE = 3.0  # seconds after its result an ending run reads the sweep
_LOOK_AGAIN = (1.0, 3.0)  # seconds before the other tasks look again
_CLOSING_LAG = 5.0  # seconds the closing follows a run's silence
_CLOSING_WAIT = 60.0  # after every run ended: the last sums up meanwhile
_NOTICE_AFTER = 600.0  # seconds a notice of tasks not reported waits


# A sweep's texts, from its runs' cards (checked when read back, escaped
# here).
_ENDED = tuple(kind for kind, row in _KINDS.items() if row.ends)
_STATUSES = tuple(_KINDS)
_LEADERS = 3  # runs a sweep's picture draws in colour; the rest in grey
_NAMED = 8  # task IDs named before an ellipsis
_SHOWN = 60  # characters of an argument a summary shows (4 times: a run's)


def _linker(url, channel):
    """Links to messages of ``channel`` at ``url`` (auth.test's); None
    where either looks wrong."""
    good = isinstance(url, str) and re.fullmatch(r'https://[\w.-]+/', url)

    def link(ts):
        if good and re.fullmatch(r'\d{1,12}\.\d{1,8}', ts or ''):
            return '%sarchives/%s/p%s' % (url, channel, ts.replace('.', ''))
        return None
    return link


def _heading(group, note=''):
    """How every text of a sweep begins, its anchor's ('Sweep 4242 (6
    tasks): '), a notice's ('Sweep 4242 (partial): ') or its summary's:
    pins and scheduled messages come without metadata, and are known by
    it (_heading_pattern)."""
    return 'Sweep %s%s: ' % (_escape(group), ' (%s)' % note if note else '')


def _heading_pattern(group):
    return r'Sweep %s(?: \((?:partial|\d+ tasks)\))?: ' % re.escape(
        _escape(group))


def _is_sweep_text(text, group):
    """Whether ``text`` is the group's anchor, summary or closing."""
    return isinstance(text, str) and re.match(_heading_pattern(group),
                                              text) is not None


def _known(text, group):
    """How much of the sweep a summary's or closing's ``text`` knows: its
    runs, then how many of them had ended. A thread only grows, so a run
    that read it later knows as much or more."""
    found = re.match(_heading_pattern(group) + r'(\d+) runs?: ([^;\n]*)',
                     text)
    if found is None:
        return 0, 0
    runs, counts = int(found.group(1)), re.findall(r'(\d+) ([a-z]+)',
                                                   found.group(2))
    ongoing = sum(int(n) for n, status in counts
                  if status in ('training', 'silent'))
    return runs, runs - ongoing


def _run_name(card, link, label=None):
    label = _shorten(label or '%s pid %d' % (card['host'], card['pid']),
                     4 * _SHOWN)
    target = link(card['report'])
    return '<%s|%s>' % (target, label) if target else label


def _best_text(card, rank_by):
    entry = card['entries'].get(rank_by)
    if not entry:
        return _escape('no %s' % rank_by)
    return _escape('%s %.4g @ %s %s' % (rank_by, entry['best'], card[
        'counter'], _number_text(entry['at'])))


def _entry_text(card, link):
    """A run's entry in its sweep's thread, while it reports."""
    return '%s: %s%s' % (_run_name(card, link), card['status'], (
        '; silent if no report by %s' % _date(card['due']))
        if card['due'] else '')


def _result_text(card, link):
    return '%s: %s, %s' % (_run_name(card, link), card['status'],
                           _best_text(card, card['rank_by']))


def _ranked(cards):
    """The entry that ranks the runs, and the cards best first."""
    rank_by = next((c['rank_by'] for c in cards if c['rank_by']), '')

    def score(card):
        entry = card['entries'].get(rank_by)
        return (0, -entry['best'] if entry['higher'] else entry[
            'best']) if entry else (1, 0)
    return rank_by, sorted(cards, key=score)


def _differing(cards):
    """Each card's arguments ('--lr 0.01'), fields ('name=value') and git
    commit that not every run shares."""
    each = []
    for card in cards:
        args, items = card['args'], []
        while args:
            take = 2 if args[0].startswith('-') and len(args) > 1 and not \
                args[1].startswith('-') else 1
            items.append(' '.join(args[:take]))
            args = args[take:]
        items += ['%s=%s' % kv for kv in sorted(card['fields'].items())]
        if card['git']:
            items.append('git ' + card['git'])
        each.append(items)
    common = set.intersection(*map(set, each)) if each else set()
    return [' '.join(_ends(i) for i in items if i not in common)
            for items in each]


def _ends(item):
    """A differing argument as a summary shows it: its end, where a path
    or a value differs."""
    return item if len(item) <= _SHOWN else '\u2026' + item[1 - _SHOWN:]


def _counts(cards):
    """'2 training, 1 completed, 1 failed' (a run started is training)."""
    counts = collections.Counter(c['status'].replace('started', 'training')
                                 for c in cards)
    return ', '.join('%d %s' % (counts[s], s) for s in _STATUSES if counts[s])


def _pending(missing):
    """'2 tasks not reported yet (4, 5)'; '' if none is missing."""
    named = [task for task in missing if task]
    shown = ', '.join(named[:_NAMED]) + (', \u2026' if len(
        named) > _NAMED else '')
    if not missing:
        return ''
    return '%d %s not reported yet%s' % (
        len(missing), 'tasks' if len(missing) > 1 else 'task',
        ' (%s)' % shown if named else '')


def _close_hint(group):
    return ('if they will not run, `python slack_report.py --summary %s '
            '--post` closes the sweep' % _escape(shlex.quote(group)))


def _anchor_text(group, size, view=None, link=None, closing=None,
                 summary=None):
    """The anchor: the sweep as ``view`` shows it, and when Slack posts the
    ``closing`` (a time, and whether it is a notice) if no run closes the
    sweep first; or, once over, the way to the ``summary``."""
    head = _heading(group, '%d tasks' % size if size else '')
    if summary:
        target = link(summary)
        return head + 'over, see %s' % ('<%s|the summary>' % target
                                        if target else 'the summary')
    if view is None:
        return head + 'starting'
    parts = [_counts(view.cards)]
    rank_by, ranked = _ranked(view.cards)
    if ranked and ranked[0]['entries'].get(rank_by):
        differs = _differing(ranked)[0]  # what sets the leader apart
        parts.append('leading: %s %s' % (_run_name(
            ranked[0], link, differs if differs else None), _best_text(
                ranked[0], rank_by)))
    parts.append(_pending(view.missing))
    if closing:
        parts.append(_close_hint(group) if closing[1] else
                     'the summary follows %s if no run reports'
                     % _date(closing[0]))
    return head + '; '.join(p for p in parts if p)


def _summary(group, cards, missing, mentions, link, hint=False,
             room=3900):
    """How the runs ended (``missing``: tasks that did not report), a line
    per run best first (as many as fit ``room``), then the mentions."""
    rank_by, cards = _ranked(cards)
    note = 'partial' if missing else ''
    told = '; '.join(p for p in (_counts(cards), _pending(missing)) if p)
    head = _heading(group, note) + '%d runs: %s' % (len(cards), told)
    lines = [head] + ([_close_hint(group).capitalize() + '.'] if hint else [])
    room -= sum(_units(line) + 1 for line in lines) + _units(' '.join(
        mentions))
    for rank, (card, differs) in enumerate(zip(cards, _differing(cards)), 1):
        alerted = _escape('  alerted: ' + ', '.join(
            card['alerts'])) if card['alerts'] else ''
        line = '%d. %s  %s  %s  %s  %s%s' % (
            rank, _run_name(card, link, card['status']), _best_text(
                card, rank_by), _format_elapsed(card['elapsed']),
            _escape(card['host']), _shorten(differs, 4 * _SHOWN), alerted)
        room -= _units(line) + 1
        if room < 40:
            lines.append('\u2026 and %d more runs' % (len(cards) - rank + 1))
            break
        lines.append(line.rstrip())
    return '\n'.join(lines + [' '.join(mentions)]).strip()


def _sweep_picture(cards):
    """Every run's curve of the ranking entry: the best few in colour,
    named by what sets them apart, the others thin and grey behind; None
    without curves."""
    rank_by, cards = _ranked(cards)
    series = []
    for rank, (card, differs) in enumerate(zip(cards, _differing(cards))):
        entry = card['entries'].get(rank_by)
        if entry and entry['curve']:
            lead = rank < _LEADERS
            series.append(_Series(
                (differs or '#%d' % (rank + 1)) if lead else '',
                _PALETTE[rank] if lead else _BEHIND, [
                    (x, y, y, y, y) for x, y in entry['curve']],
                (entry['at'], entry['best']) if lead else None,
                3 if rank == 0 else 2 if lead else 1))
    xs = [c[0] for s in series for c in s.columns]
    return _draw([series], (min(xs), max(xs)), cards[0]['counter'],
                 rank_by) if series else None


# A card's shape: a type (str, finite numbers), a list, a tuple (exactly
# those), a dict (those keys, or '*': any). One builder (_bounded) writes
# it and the reader (_fits) checks it within the same bounds: characters
# of a string, items of a list or dict, characters of a list's strings in
# all (Slack takes a few kilobytes of metadata).
_CARD = {'run': str, 'key': str, 'tasks': [int], 'alerts': [str],
         'group': str, 'size': int,
         'rank_by': str, 'host': str, 'pid': int, 'cmd': str, 'args': [str],
         'git': str, 'fields': {'*': str}, 'status': str, 'detail': str,
         'updated': float, 'elapsed': float, 'counter': str, 'report': str,
         'due': float, 'entries': {'*': {
             'latest': float, 'best': float, 'at': float, 'higher': bool,
             'curve': [(float, float)]}}}
_CARD_TEXT, _CARD_ITEMS, _CARD_WORDS = 256, 32, 1000


def _fits(value, shape):
    """Whether ``value`` (parsed JSON) has ``shape``, within the bounds."""
    if isinstance(shape, list):
        return isinstance(value, list) and len(value) <= _CARD_ITEMS and all(
            _fits(v, shape[0]) for v in value) and (shape[0] is not str or sum(
                map(len, value)) <= _CARD_WORDS)
    if isinstance(shape, tuple):
        return isinstance(value, list) and len(value) == len(shape) and all(
            _fits(v, s) for v, s in zip(value, shape))
    if isinstance(shape, dict):
        return isinstance(value, dict) and len(value) <= _CARD_ITEMS and all(
            _fits(k, str) and _fits(v, shape['*']) for k, v in value.items()
        ) if '*' in shape else isinstance(value, dict) and all(
            k in value and _fits(value[k], s) for k, s in shape.items())
    if shape is float:
        return type(value) in (int, float) and math.isfinite(value)
    return type(value) is shape and (shape is not str or len(
        value) <= _CARD_TEXT)


def _bounded(value, shape):
    """``value`` (a card, or a part of it) cut to fit ``shape``: long
    strings end in an ellipsis, a list keeps its first items and says how
    many more, a dict its first items."""
    if isinstance(shape, list) and shape[0] is str:
        kept, used = [], 0
        for item in (_bounded(v, str) for v in value):
            used += len(item)
            if len(kept) == _CARD_ITEMS - 1 or used > _CARD_WORDS - 20:
                break
            kept.append(item)
        more = len(value) - len(kept)
        if more:
            kept.append('\u2026 and %d more' % more)
        return kept
    if isinstance(shape, list):
        return [_bounded(v, shape[0]) for v in value[:_CARD_ITEMS]]
    if isinstance(shape, dict) and '*' in shape:
        return {_clean(k): _bounded(v, shape['*']) for k, v in list(
            value.items())[:_CARD_ITEMS] if len(k) <= _CARD_TEXT}
    if isinstance(shape, dict):
        return dict(value, **{k: _bounded(value[k], s)
                              for k, s in shape.items() if k in value})
    if shape is str:
        text = _clean(value)
        return text if len(text) <= _CARD_TEXT else text[
            :_CARD_TEXT - 1] + '\u2026'
    return value


def _empty(shape):
    """What a card holds where a value of ``shape`` cannot be read."""
    if isinstance(shape, (list, tuple, dict)):
        return type(shape)()
    return shape()


def _readable(card, group):
    """``card`` (read back) as a run of ``group``: each value that does not
    fit (another version's, or cut) read as empty; None if it is none of
    the group's runs."""
    if not (isinstance(card, dict) and card.get('group') == group and
            card.get('status') in _STATUSES and (
                _fits(card.get('key'), str) or _fits(card.get('run'), str))):
        return None
    return {key: card[key] if key in card and _fits(card[key], shape) else
            _empty(shape) for key, shape in _CARD.items()}


def _mine(client, message):
    """Whether this token's bot (or user) posted ``message``."""
    me = client.identity()
    mine = me.get('bot_id') or me.get('user_id')
    return bool(mine) and message.get(
        'bot_id' if me.get('bot_id') else 'user') == mine


def _own(client, message, *kinds):
    """The payload of ``message`` if this token's bot (or user) posted it
    with metadata of one of ``kinds``; else None."""
    metadata = message.get('metadata')
    if not (_mine(client, message) and isinstance(metadata, dict) and
            metadata.get('event_type') in kinds):
        return None
    payload = metadata.get('event_payload')
    return payload if isinstance(payload, dict) else None


def _read(client, method, pages, **params):
    """At most ``pages`` pages of ``method``'s messages (for pins.list, the
    messages pinned), as lists."""
    pins = method == 'pins.list'
    if not pins:
        params.update(limit=_THREAD_PAGE if method == 'conversations.'
                      'replies' else _PAGE, include_all_metadata='true')
    for _, answer in zip(range(pages), client.pages(method, **params)):
        found = [item.get('message') for item in answer.get('items') or ()
                 if isinstance(item, dict)] if pins else answer.get(
                     'messages')
        yield [m for m in (found if isinstance(found, list) else ())
               if isinstance(m, dict) and isinstance(m.get('ts'), str)]


def _span(cards):
    """The array's task IDs, where Slurm told them; else None."""
    span = next((c['tasks'] for c in cards if len(c['tasks']) == 3), None)
    return span and range(span[0], span[1] + 1, max(1, span[2]))


def _of_array(found):
    """The (ts, card) pairs found but those of a task outside the array's
    range."""
    tasks = _span([card for _, card in found])
    return [(ts, c) for ts, c in found if not (tasks and c['key']) or
            c['key'] in map(str, tasks)]


def _missing(cards, size):
    """The tasks of a sweep of ``size`` that have not reported: their IDs
    where Slurm told a range that counts ``size``, else blanks."""
    reported = {card['key'] for card in cards}
    tasks = _span(cards) or ()
    if len(tasks) == size:
        return [str(task) for task in tasks if str(task) not in reported]
    return [''] * max(0, size - len(cards))


def _silent_by(card, when):
    """Whether a run of the sweep counts as silent at ``when``: it has no
    result, and the date its entry gave (0: none) has passed."""
    return not card['result'] and 0 < card['due'] <= when


class _View(object):
    """A sweep as its anchor's thread tells it: each run's newest card (its
    result if it has one), the summary's ts ('' if none), the newest
    result's ts."""

    def __init__(self, cards, summary, newest, size):
        self.cards, self.summary, self.newest = cards, summary, newest
        self.training = [c for c in cards if c['status'] not in _ENDED]
        self.missing = _missing(cards, size) if size else []
        self.complete = bool(size) and not (self.training or self.missing)

    def closing(self):
        """What Slack is to post if no run closes the sweep: (when, the
        cards then, whether it is a notice). The summary once the runs still
        training count as silent (_CLOSING_WAIT from now if none is); a
        notice, not before _NOTICE_AFTER, where tasks are missing or a run's
        silence has no date."""
        notice = bool(self.missing) or not all(
            c['due'] for c in self.training)
        now, times = time.time(), [c['due'] + _CLOSING_LAG
                                   for c in self.training]
        if notice:
            times.append(now + _NOTICE_AFTER)
        if not self.training:
            times.append(now + _CLOSING_WAIT)
        at = max(times)
        return at, [dict(c, status='silent') if _silent_by(c, at) else c
                    for c in self.cards], notice


class _Anchor(object):
    """Where a sweep's runs meet: the group's oldest anchor message. Found
    on the channel's newest page, else among its pins (however busy the
    channel has been since), else posted: a run that then sees an older one
    deletes its own, so only the oldest is pinned, while the sweep runs.
    Without the pins scopes, looked for among the newest pages only."""

    def __init__(self, client, group, size, warn):
        self._client, self._warn = client, warn
        self._group, self._size = group, size
        self._pins = True  # until Slack says the token may not
        self._over = False  # the anchor found leads to a summary
        self.posted = None  # the anchor, once found

    def find(self, channel, deep=True):
        """Look for the anchor; whether found. Unless the end is near
        (not ``deep``), an anchor someone unpinned is looked for among the
        newest pages too, and pinned again."""
        found = self._oldest(channel, 1)
        if found is None and self._pins:
            found = self._pinned(channel)
        if found is None and (deep or not self._pins):
            found = self._oldest(channel, _WINDOW)
            if found is not None and self._pins and deep and not self._over:
                self._pin('pins.add', _Posted(self._client, channel, found))
        if found is not None:
            self.posted = _Posted(self._client, channel, found)
        return found is not None

    def post(self, channel):
        """Post an anchor; keep it, pinned, unless an older one came (or,
        for a channel given by name, whose ID the post tells, was there)."""
        posted = _Posted(self._client, channel, None)
        self._show(posted, _anchor_text(self._group, self._size), '')
        found = [self._oldest(posted.channel, 1), posted.ts]
        if self._pins and not _CHANNEL_ID.fullmatch(channel or ''):
            found.append(self._pinned(posted.channel))
        oldest = min((ts for ts in found if ts), key=float)
        if oldest != posted.ts:
            self._client.call('chat.delete', channel=posted.channel,
                              ts=posted.ts)
            posted = _Posted(self._client, posted.channel, oldest)
        elif self._pins:
            self._pin('pins.add', posted)
        self.posted = posted

    def show(self, text, summary=None):
        """Edit the anchor; with ``summary`` (the summary's ts), its metadata
        too: other edits leave it, so none undoes a summary."""
        self._show(self.posted, text, summary)

    def _show(self, posted, text, summary):
        posted.show(text, metadata=summary is not None and (_ANCHOR, {
            'group': self._group, 'size': self._size or 0,
            'summary': summary}))

    def unpin(self):
        if self._pins:
            self._pin('pins.remove', self.posted)

    def read(self):
        """The sweep as its thread holds it now."""
        anchor, latest, summary = self.posted, {}, ''
        for page in _read(self._client, 'conversations.replies', 5,
                          channel=anchor.channel, ts=anchor.ts):
            for message in page:
                if message['ts'] == anchor.ts:
                    summary = str((_own(self._client, message, _ANCHOR) or
                                   {}).get('summary') or '')
                card = _readable(_own(self._client, message, _ENTRY,
                                      _RESULT), self._group)
                if card:
                    result = message['metadata']['event_type'] == _RESULT
                    latest[card['key'] or card['run']] = message['ts'], dict(
                        card, result=result)
        now, found = time.time(), _of_array(list(latest.values()))
        for _, card in found:
            if _silent_by(card, now):
                card['status'] = 'silent'
        cards = [card for _, card in found]
        return _View(cards, summary if re.fullmatch(r'\d+\.\d+', summary)
                     else '', max((ts for ts, c in found if c['result']),
                                  key=float, default=None), self._size or
                     max([c['size'] for c in cards] or [0]))

    def _oldest(self, channel, pages):
        """The group's oldest anchor on the newest page that has one (and
        whether its sweep is over)."""
        for page in _read(self._client, 'conversations.history', pages,
                          channel=channel):
            found = []
            for message in page:
                anchor = _own(self._client, message, _ANCHOR) or {}
                if anchor.get('group') == self._group:
                    found.append((float(message['ts']), message['ts'],
                                  bool(anchor.get('summary'))))
            if found:
                _, ts, self._over = min(found)
                return ts
        return None

    def _pinned(self, channel):
        """The group's oldest pinned anchor, known by its first words."""
        try:
            pinned = next(_read(self._client, 'pins.list', 1,
                                channel=channel))
        except _SlackError as error:
            return self._unpinnable(error)
        return min((m['ts'] for m in pinned if _mine(self._client, m) and
                    _is_sweep_text(m.get('text'), self._group)),
                   key=float, default=None)

    def _pin(self, method, posted):
        try:
            self._client.call(method, channel=posted.channel,
                              timestamp=posted.ts)
        except _SlackError as error:  # else pinned already, or gone
            if error.kind in _TRANSIENT or error.error == 'missing_scope':
                self._unpinnable(error)

    def _unpinnable(self, error):
        """Pins are optional: without them, warn once (an end out of reads
        has them still)."""
        if error.kind in _TRANSIENT or error.error == 'read_budget':
            raise error
        self._pins = False
        self._warn('pins', 'sweep %s cannot pin its anchor (%s): %s. '
                   'Without pins, a run that starts after %d other messages'
                   ' does not find its sweep.'
                   % (self._group, error.error, error.fix(), _PAGE * _WINDOW))


class _Closing(object):
    """What Slack posts for a sweep that no live run can close: the summary
    once the runs still training count as silent, or a notice of tasks not
    reported. Scheduled as text alone (Slack does not post a scheduled
    message with metadata), and known again by its first words."""

    def __init__(self, client, group):
        self._client, self._group = client, group
        self._id = None  # the one this run scheduled

    def schedule(self, channel, text, at):
        """Replace the group's closings by ``text``, posted at ``at``, unless
        one knows more of the sweep (its run read the thread later: this
        run's view is older). Runs ending together may each have scheduled
        one: the one that knows most stays, the latest of those."""
        pending = self._pending(channel)
        mine = _known(text, self._group)
        if any(_known(m['text'], self._group) > mine for m in pending):
            return
        for message in pending:
            self._delete(channel, message['id'])
        self._id = self._client.call(
            'chat.scheduleMessage', channel=channel, post_at=int(at),
            text=text)['scheduled_message_id']
        for message in sorted(self._pending(channel), key=lambda m: (
                _known(m['text'], self._group), m['post_at'],
                m['id']))[:-1]:
            self._delete(channel, message['id'])

    def postpone(self, channel, at):
        """A run still reporting: its silence is no nearer than ``at``. The
        copy goes first (a run killed meanwhile leaves a closing), and goes
        too if the original was gone (replaced by an ending run's, or out)
        and another is pending (an ending run's may have kept the copy)."""
        for message in self._pending(channel):
            if message['post_at'] < at:
                copy = self._client.call(
                    'chat.scheduleMessage', channel=channel, post_at=int(at),
                    text=message['text'])['scheduled_message_id']
                if not self._delete(channel, message['id']) and any(
                        m['id'] != copy for m in self._pending(channel)):
                    self._delete(channel, copy)

    def cancel(self, channel, everyone=False):
        """Delete the one this run scheduled, or every one of the group."""
        if everyone:
            ids = [message['id'] for message in self._pending(channel)]
        else:
            ids = [self._id] if self._id else []
        for scheduled_id in ids:
            self._delete(channel, scheduled_id)

    def _pending(self, channel):
        return [m for answer in self._client.pages(
            'chat.scheduledMessages.list', channel=channel)
            for m in answer.get('scheduled_messages') or ()
            if _fits(m, {'id': str, 'post_at': int}) and _is_sweep_text(
                m.get('text'), self._group)]

    def _delete(self, channel, scheduled_id):
        """Whether it was still pending (else posted already, or gone)."""
        try:
            self._client.call('chat.deleteScheduledMessage', channel=channel,
                              scheduled_message_id=scheduled_id)
            return True
        except _SlackError as error:
            if error.kind in _TRANSIENT:
                raise
            return False


class _Sweep(object):
    """This run's place in its group, a sweep of ``size`` runs if known.

    Its entry in the anchor's thread comes first, before its report, and is
    kept fresh; its result comes first at the end. The thread alone tells
    the sweep; how it ends, the _Closer decides.
    """

    def __init__(self, client, worker, group, size, plot=True):
        self._client, self._worker = client, worker
        self.group, self.size = group, size
        self.anchor = _Anchor(client, group, size, worker.warn)
        self.closer = _Closer(client, self.anchor, group, size, plot,
                              worker.warn)
        self.entry = self._result = None  # once joined
        self._announced = False  # the anchor has shown this run
        self._told = None  # once known, for retries
        self._settled = 0.0  # time.monotonic() _SETTLE after the result
        self.on = True  # off: this run reports alone

    def enter(self, card, channel):
        """Before the run's first report: its entry. A failure that passes
        holds the report back, on every path: a run killed after its first
        post must have its entry in the sweep."""
        with self._or_alone(later=False):
            if self.entry is None:
                self._enter(card, channel)

    def follow(self, card, channel, mentions):
        """While the run reports: join, post or refresh its entry; once its
        report is out, show it in the anchor and in the closing (which Slack
        posts if every run dies; shown once a run has ended); later, push
        the closing back as the entry moves."""
        with self._or_alone(later=True):
            moved = self._enter(card, channel)
            if card['report'] and not self._announced:
                view, link = self.anchor.read(), self.link()
                shown = bool(self.size and view.newest)  # with the closing
                if self.size and not view.summary:
                    self.closer.defer(view, mentions, link, shown)
                if not (view.summary or shown):
                    self.anchor.show(_anchor_text(self.group, self.size,
                                                  view, link))
                self._announced = True
            elif moved and self._announced and self.size:
                self.closer.postpone(card['due'] + _CLOSING_LAG)

    def earlier(self, card, channel):
        """For a task started again: its earlier life's report, if the
        sweep's thread has it (else None)."""
        with self._or_alone(later=False):
            if self.entry is None:
                self._join(channel, card)
            return next((c['report'] for c in self.anchor.read().cards if c[
                'key'] == card['key'] and c['run'] != card['run'] and c[
                    'report']), None)

    def finish(self, card, channel):
        """At the end, first: the result (the entry stays as it was)."""
        with self._or_alone(later=False):
            if self.entry is None:
                self._join(channel, card)
            if self._result.show(_result_text(card, self.link()),
                                 metadata=(_RESULT, card)):
                self._settled = time.monotonic() + _SETTLE
                # The end's reads are the decision's: a run whose first post
                # is its end has spent some on finding the sweep.
                self._client.limit_reads(_END_READS)

    def decide(self, mentions):
        """Once the result is out: the summary or the closing. Whether a
        summary tells of this run."""
        with self._or_alone(later=False):
            if self._told is None:  # decided once
                # Runs ending with this one post meanwhile: one read finds
                # the newest.
                self._worker.wait(max(0.0, self._settled - time.monotonic()))
                self._told = self.closer.decide(self._result.ts, mentions,
                                                self.link())
            return self._told
        return False

    def _enter(self, card, channel):
        """Join the group; post or refresh the entry: whether it changed."""
        if self.entry is None:
            self._join(channel, card)
        return self.entry.show(_entry_text(card, self.link()),
                               metadata=(_ENTRY, card))

    def _join(self, channel, card):
        """Find the anchor, else post it: the array's first task at once,
        the others once they have looked again a moment later."""
        first = not card['tasks'] or card['key'] == str(card['tasks'][0])
        named = not _CHANNEL_ID.fullmatch(channel or '')  # reads need the ID
        ending = self._worker.closing
        if not (named or self.anchor.find(channel, not ending) or first or
                ending):
            self._worker.wait(random.uniform(*_LOOK_AGAIN), until_closed=True)
            self.anchor.find(channel)
        if self.anchor.posted is None:
            self.anchor.post(channel)
        channel, ts = self.anchor.posted.channel, self.anchor.posted.ts
        self.entry = _Posted(self._client, channel, None, thread=ts)
        self._result = _Posted(self._client, channel, None, thread=ts)

    def link(self):
        return _linker(self._client.identity().get('url'),
                       self.anchor.posted.channel)

    @contextlib.contextmanager
    def _or_alone(self, later):
        """A fatal error leaves this run alone, with one warning; others
        are retried (``later``: at the next report, but a 429 slows the
        run down at once: every run of the bot shares the budget)."""
        try:
            yield
        except _SlackError as error:
            if error.kind in _TRANSIENT:
                if later and error.kind == 'retry':
                    return
                raise
            self.on = False
            _cannot_read(self._worker.warn, error, 'the sweep %s cannot go '
                         'on' % self.group, 'group=False')


class _Closer(object):
    """How a sweep ends: the closing that Slack posts if no run sums the
    sweep up, and the summary, by the run whose result is the newest once
    all tasks have ended (it reads after posting it, so it sees every
    earlier one)."""

    def __init__(self, client, anchor, group, size, plot, warn):
        self._client, self._anchor = client, anchor
        self._group, self._size = group, size
        self._closing = _Closing(client, group)
        self._summary = self._decided = None  # the summary; the end's view
        self._deferred = False  # the end's closing is set
        self._picture = _Picture(client, warn, plot, 'sweep.png',
                                 'Sweep curves')

    def decide(self, result, mentions, link):
        """For the run whose result is at ``result`` (a ts): the summary,
        else the closing. Whether a summary tells of the run. The thread is
        read once: a retry goes on from it, within the end's reads."""
        view = self._decided = self._decided or self._anchor.read()
        if view.summary and float(view.summary) > float(result):
            return True  # it tells of this run
        if view.summary:  # a later life, or a late task: the summary is
            self._update(view, mentions, link)  # brought up to date, and
            return False  # the run tells its news (an edit does not notify)
        newest = view.newest == result
        if newest and view.complete:
            self.sum_up(view, mentions, link)
            return True
        # The closing, whoever ends: if no run sums the sweep up (the one
        # with the newest result, or a later one), Slack does.
        if not self._deferred:
            self.defer(view, mentions, link, newest)
            self._deferred = True
        try:
            if self._anchor.read().summary:  # came meanwhile, maybe before
                self._closing.cancel(self._anchor.posted.channel)  # it
        except _SlackError as error:  # no read left: a summary posted
            if error.error != 'read_budget':  # later takes the closing
                raise
        return True

    def _update(self, view, mentions, link):
        """Bring the summary posted already up to date, in place."""
        self._summary = self._summary or _Posted(
            self._client, self._anchor.posted.channel, view.summary)
        self._picture.keep()
        self.sum_up(view, mentions, link)

    def defer(self, view, mentions, link, shown=True):
        """Schedule the closing ``view`` calls for; if ``shown``, show it in
        the anchor."""
        at, cards, notice = view.closing()
        self._closing.schedule(self._anchor.posted.channel, _summary(
            self._group, cards, view.missing, mentions, link, notice), at)
        if shown:
            self._anchor.show(_anchor_text(self._group, self._size, view,
                                           link, (at, notice)))

    def postpone(self, at):
        """A run still reporting: the closing no earlier than ``at``."""
        self._closing.postpone(self._anchor.posted.channel, at)

    def sum_up(self, view, mentions, link):
        """The summary (it notifies), the anchor leading to it and off the
        pins, the closing off the schedule; then the curves."""
        self._summary = self._summary or _Posted(
            self._client, self._anchor.posted.channel, None)
        self._summary.show(_summary(self._group, view.cards, view.missing,
                                    mentions, link),
                           metadata=(_SUMMARY, {'group': self._group}))
        self._anchor.show(_anchor_text(self._group, self._size, link=link,
                                       summary=self._summary.ts),
                          summary=self._summary.ts)
        self._anchor.unpin()
        self._closing.cancel(self._summary.channel, everyone=True)
        self._picture.post(self._summary, _sweep_picture, view.cards)
        # A run that read the thread before the summary came may have set a
        # closing since: look once more, the picture's time later.
        self._closing.cancel(self._summary.channel, everyone=True)

###############################################################################
# The silence reply (stale_after) #############################################
###############################################################################

# Owns the reply Slack posts if the run stops reporting; _Sender
# keeps it moving, _Finale deletes it.


# stale_after='auto': how long without a report means the run died or hangs.
_STALE_FLOOR = 600.0  # seconds, at least
_STALE_GAPS = 3  # times the longest gap seen between reports
_STALE_FIRST = 3600.0  # before a gap has been seen


class _Switch(object):
    """The reply kept scheduled in the report's thread ``stale_after`` past
    the newest report: if reports stop (SIGKILL, OOM, a hang), Slack posts
    it. It moves when its status changes or half its margin has passed, to
    a random point of the next (runs started together spread out).
    """

    def __init__(self, client, warn, stale_after, scheduled, resumed):
        self._client = client
        self._warn = warn
        self._stale_after = stale_after
        self.id, self.at, self._status = scheduled, None, None
        self._thread = None  # where it is: the report's, or the sweep's
        self._retired = []  # scheduled replies to delete
        self._last_seen, self._longest_gap = None, 0.0  # for 'auto'
        # A resumed run's killed predecessor may have moved its reply after
        # the snapshot that carried its ID: look for it now, and at the end
        # (a call it sent before it died may be taken late).
        self._seek = self._resumed = resumed
        # The marks of replies scheduled unanswered (Slack may have taken
        # them all the same): looked for at the next report and at the end.
        self._lost = set()

    def margin(self, state):
        """``stale_after``, or for 'auto' from the gaps between states."""
        last, self._last_seen = self._last_seen, state.time
        if self._stale_after != 'auto':
            return self._stale_after
        if last is None:
            return _STALE_FIRST
        self._longest_gap = max(self._longest_gap, state.time - last)
        return max(_STALE_FLOOR, _STALE_GAPS * self._longest_gap)

    def due(self, margin):
        """When the reply must move if reports go on (time.time())."""
        return (self.at or float('inf')) - (margin or 0.0)

    def due_by(self, state, margin):
        """When the run counts as silent: the reply's time, else the latest
        it would be scheduled for after ``state``; 0: never."""
        if self.at or not margin or self._stale_after is None:
            return float(self.at or 0.0)
        return state.time + 2 * margin

    def keep(self, posted, state, margin, message, user_ids, thread=None):
        """Schedule the reply in ``posted``'s thread (or in ``thread``, the
        sweep's, before the first post), unless it fits."""
        thread = thread if posted.ts is None else posted
        if not margin or self._stale_after is None or thread is None or (
                self._status == state[:2] and self.at and self._thread ==
                thread.ts and self.at >= state.time + margin):
            return
        post_at = int(math.ceil(state.time + margin * (1 + random.random())))
        text, broadcast = message.reply(state, user_ids, post_at - margin,
                                        posted.ts)
        try:
            answer = thread.reply(text, broadcast, post_at=post_at,
                                  method='chat.scheduleMessage')
        except _SlackError as error:
            if error.kind != 'fatal':
                _retrying(self._warn, error, 'at a later report')
                if error.kind == 'retry':  # unanswered: it may be
                    self._lost.add(_mark_of(text))  # scheduled all the same
                    self._seek = True
            else:
                self._warn('switch', 'cannot schedule the reply that tells '
                           'if this run goes silent (%s): %s'
                           % (error.error, error.fix()))
                self._stale_after = None  # off for the rest of the run,
                self.retire()  # and a reply it can no longer move goes
                self.drop(posted.channel)
            return
        self.retire()
        self.id, self.at = answer['scheduled_message_id'], post_at
        # Kind and detail: a notice moves it too.
        self._status, self._thread = state[:2], thread.ts
        self.drop(posted.channel)

    def seek(self, posted, finishing=False):
        """If resumed, or a reply may have been scheduled unanswered (both:
        at the end too): retire the replies marked as this run's."""
        if not (self._seek or finishing and (self._lost or self._resumed)):
            return
        marks = tuple(self._lost) + ((_marker(posted.ts),) if posted.ts
                                     else ())
        for answer in self._client.pages('chat.scheduledMessages.list',
                                         channel=posted.channel):
            self._retired += [m['id'] for m in answer.get(
                'scheduled_messages', []) if m.get('text', '').endswith(
                    marks) and m['id'] != self.id]
        self._seek = False

    def retire(self):
        if self.id:
            self._retired.append(self.id)
        self.id = self.at = None

    def take(self, scheduled):
        """Go on in an earlier life's thread: its replies go, once moved."""
        self.retire()
        self.id = scheduled
        self._seek = self._resumed = True

    def drop(self, channel, finishing=False):
        """Delete the retired replies; a busy Slack leaves them for later
        (``finishing``: raises, to be retried)."""
        while self._retired:
            try:
                self._client.call('chat.deleteScheduledMessage',
                                  channel=channel,
                                  scheduled_message_id=self._retired[0])
            except _SlackError as error:
                if error.kind in _TRANSIENT:
                    if finishing:
                        raise
                    break
            del self._retired[0]  # deleted, or already posted or gone

###############################################################################
# Commands from the thread: stop and snapshot #################################
###############################################################################

# The sender's half: reads the thread, publishes a command in
# _Learned, posts the answers; the training thread's half is
# _Commands, beside the extension.


# Commands from the run's thread.
_COMMANDS = ('stop', 'snapshot')
_CONTROL_ALONE = 30.0  # seconds between two reads of the thread
_CONTROL_PER_RUN = 3.0  # in a sweep, times its size: ~20 reads a minute
_CONTROL_PAGES = 5  # pages a read may take: past a flood of 1,000 replies
_REFUSED = ('Only the people this run names (finish_mentions or controllers) '
            'may stop or snapshot it.')


def _command(reply, bot):
    """'stop' or 'snapshot' if a person's ``reply`` says only that (after a
    mention of the ``bot`` user, if any); else None. A reply also sent to
    the channel (thread_broadcast) is one."""
    text = reply.get('text')
    by_app = any(reply.get(k) for k in ('bot_id', 'app_id'))
    if by_app or reply.get('subtype') not in (None, 'thread_broadcast') or (
            not (isinstance(text, str) and len(text) < 100)):
        return None
    word = re.sub(r'^\s*<@%s(\|[^>]*)?>' % re.escape(bot or '-'), '', text)
    return word.strip().lower() if word.strip().lower() in _COMMANDS else None


class _Control(object):
    """Commands in the run's thread, read on the sender's thread every
    ``interval`` s ('auto': 30 s alone, slower in a sweep, whose runs share
    the reads): a reply of stop or snapshot, by a person the run names,
    posted since this process started. The newest is ``command`` (its ts,
    the word, who: by name, see ``_name``); anyone else is told once that
    they may not. A 429
    delays the reads alone; other methods keep their pace."""

    def __init__(self, client, warn, control, size):
        self._client, self._warn = client, warn
        people, self.names, interval = control
        self._people, self.on = set(people), bool(people or self.names)
        self._interval = max(_CONTROL_ALONE, _CONTROL_PER_RUN * (
            size or 0)) if interval == 'auto' else interval
        self._since = '%.6f' % time.time()  # earlier: for an earlier run
        self._next, self._refused, self._answered = 0.0, False, set()
        self.command = None

    def poll(self, posted, user_ids):
        """Read the thread if it is time; seconds until the next read (None:
        never). It raises nothing: a failed read is tried again later."""
        if self.on and self.names and user_ids is None:
            return self._interval  # not before the names are known
        now = time.monotonic()
        if not self.on or posted.ts is None:
            return None  # nothing to read before the report is out
        if now < self._next:
            return self._next - now
        self._next = now + self._interval
        try:
            replies = [reply for page in _read(
                self._client, 'conversations.replies', _CONTROL_PAGES,
                channel=posted.channel, ts=posted.ts, oldest=self._since)
                for reply in page]
        except _SlackError as error:
            if error.kind not in _TRANSIENT:
                self.on = False
                return _cannot_read(self._warn, error, 'cannot read the '
                                    "run's thread", 'controllers=None')
            self._next = now + max(self._interval, error.retry_after or 0)
            return self._next - now
        named = {(user_ids or {}).get(n.lower()): n for n in self.names}
        people = self._people | set(named) - {None}
        for reply in (r for r in replies if float(r['ts']) > float(
                self._since)):
            self._since, word = reply['ts'], _command(
                reply, self._client.identity().get('user_id'))
            if word and reply.get('user') in people:
                self.command = reply['ts'], word, self._name(
                    reply['user'], named)
            elif word and not self._refused:
                with contextlib.suppress(_SlackError):  # else said later
                    posted.reply(_REFUSED, False)
                    self._refused = True
        return self._interval

    def _name(self, user, named):
        """How to name ``user`` without notifying them: the name the run
        was given, else their username (users.info), else their ID."""
        if user in named:
            return named[user]
        try:
            name = self._client.call('users.info', user=user)['user']['name']
        except (_SlackError, LookupError, TypeError):
            return user
        return name if isinstance(name, str) and re.fullmatch(
            r'[\w.\-]{1,80}', name) else user

    def answer(self, posted, answers):
        """Tell in the thread what each command did, once."""
        for when, text in answers if posted.ts else ():
            if when not in self._answered:
                posted.reply(text, False)
                self._answered.add(when)

###############################################################################
# Alerts: NaN and thresholds, told to the people named ########################
###############################################################################

# The training thread finds them (_Trends); _Alarms posts them.


# Alerts: a post a minute at most, and the same text from the script once
# in ten minutes.
_ALERT, _ALERT_GAP, _ALERT_AGAIN, _ALERT_LINES = ('slack_report_alert', 60.0,
                                                  600.0, 20)


class _Alarms(object):
    """Alerts in the run's thread, each notifying the people it names: what
    the trends noted (once a run: a resumed run first reads the thread for
    those posted before) and the texts handed on by ``alert()``. One post a
    minute at most; what comes meanwhile is folded into the next."""

    def __init__(self, client, handed, resumed, fired, control):
        self._client, self._handed, self._seek = client, handed, resumed
        self._fired, self._control = fired, control  # noted; commands
        self._lines, self._known = [], set()  # to post; noted already
        self._said = {}  # alert() texts, when each was last taken
        self._next = 0.0  # time.monotonic() of the next post, at least
        self.keys = []  # what alerted, for the run's card

    def send(self, posted, markup, final):
        """Post what is new, if it is time (or the run ends); the rest
        waits for the next."""
        fired = self._fired
        if posted.ts is None:
            return
        if self._seek:
            self._known.update(self._posted_before(posted))
        new = [key for key in fired if key not in self._known]
        self._known.update(new)
        self._lines += [(key, _escape(fired[key])) for key in new]
        if self._handed:  # the same text once in ten minutes
            now = time.monotonic()
            self._said = {text: at for text, at in self._said.items()
                          if at > now - _ALERT_AGAIN}
            while self._handed:
                text = self._handed.popleft()
                if text not in self._said:
                    self._said[text] = now
                    self._lines.append(('alert()', _escape(text)))
        if not self._lines or time.monotonic() < self._next and not final:
            return
        lines, keys = self._lines[:_ALERT_LINES], [k for k, _ in self._lines]
        shown = [line for _, line in lines]
        if len(keys) > len(lines):
            shown.append('\u2026 and %d more' % (len(keys) - len(lines)))
        if self._control.on:
            shown.append('Reply stop to end this run.')
        text = '\n'.join(shown)
        posted.reply(' '.join(markup + [text]), any(
            m in ('<!here>', '<!channel>', '<!everyone>') for m in markup),
            metadata=json.dumps({'event_type': _ALERT, 'event_payload': {
                'keys': keys[:_ALERT_LINES]}}))
        self.keys = (self.keys + [k for k in keys if k not in self.keys])[
            -_ALERT_LINES:]
        self._lines, self._next = [], time.monotonic() + _ALERT_GAP

    def _posted_before(self, posted):
        """The keys of the alerts in the thread (a resumed run's)."""
        self._seek = False
        try:
            return [key for page in _read(
                self._client, 'conversations.replies', 5,
                channel=posted.channel, ts=posted.ts) for m in page
                for key in (_own(self._client, m, _ALERT) or {}).get(
                    'keys', ()) if isinstance(key, str)]
        except _SlackError as error:  # without it, alerts may come again
            if error.kind in _TRANSIENT:
                self._seek = True
                raise
            return []

###############################################################################
# People named: mentions and who may command ##################################
###############################################################################

# Turns usernames and e-mail addresses into user IDs, after the
# first post, with the client's users.* calls.


_NAMES_AGAIN = 30.0  # seconds after a failed look-up without Retry-After


def _human(user):
    """Whether users.list's ``user`` is an active person: not deactivated,
    not a bot nor Slackbot. Guests count: a run may name one."""
    return isinstance(user, dict) and isinstance(user.get('id'), str) and (
        re.fullmatch('[UW][A-Z0-9]{2,40}', user['id']) is not None) and not (
            user.get('deleted') or user.get('is_bot') or
            user['id'] == 'USLACKBOT')


class _People(object):
    """The IDs of the people named by username or e-mail address: only an
    active person's unique ``name`` counts, never a display name, which
    anyone may take. Looked up on the sender's thread once the report is
    out; users.list resumes from its cursor after a failure. ``ids``:
    lower-cased name -> ID once done, else None."""

    def __init__(self, client, names, warn):
        self._client, self._warn = client, warn
        self._names = {name.lower() for name in names}
        self._found, self._displayed = {}, set()  # by name; display name
        self._cursor, self._asked = None, set()  # users.list's; e-mails
        self._next = self._until = 0.0  # the next try; Retry-After's end
        self.ids = None if names else {}

    def resolve(self, final=False):
        """Look up what is left if it is time (at the end, now); the IDs,
        or None. A transient failure raises only at the end."""
        now = time.monotonic()
        if self.ids is not None or not final and now < self._next:
            return self.ids
        if now < self._until:  # at the end too, Slack's wait holds
            raise _SlackError('ratelimited', 'slow_down', self._until - now)
        try:
            self._by_email()
            self._by_name()
        except _SlackError as error:
            if error.kind in _TRANSIENT:
                self._until = now + (error.retry_after or 0.0)
                self._next = now + (error.retry_after or _NAMES_AGAIN)
                if final:
                    raise
                return None
            self._warn('users', 'cannot look up %s (%s): %s, or give user '
                       'IDs (@U0123ABCD)' % (', '.join(sorted(
                           self._names)), error.error, error.fix()))
        self._done()
        return self.ids

    def _by_email(self):
        for email in sorted(n for n in self._names - self._asked if '@' in n):
            try:
                user = self._client.call('users.lookupByEmail',
                                         email=email).get('user')
            except _SlackError as error:
                if error.error != 'users_not_found':
                    raise
                user = None
            if _human(user):
                self._found[email] = user['id']
            self._asked.add(email)

    def _by_name(self):
        wanted = {n for n in self._names if '@' not in n}
        while wanted - set(self._found) and self._cursor != '':
            answer = self._client.call('users.list', limit=200, **(
                {'cursor': self._cursor} if self._cursor else {}))
            for user in filter(_human, answer.get('members') or ()):
                name = str(user.get('name', '')).lower()
                shown = str((user.get('profile') or {}).get('display_name',
                                                            '')).lower()
                if name in wanted:
                    self._found[name] = user['id']
                elif shown in wanted:
                    self._displayed.add(shown)
            cursor = (answer.get('response_metadata') or {}).get(
                'next_cursor')
            self._cursor = cursor if isinstance(cursor, str) else ''

    def _done(self):
        missing = sorted(self._names - set(self._found))
        shown = sorted(self._displayed & set(missing))
        note = ' (%s only as a display name, which anyone may take)' % (
            ', '.join(shown)) if shown else ''
        if missing:
            self._warn('names', 'no active Slack member has the username or '
                       'e-mail address %s%s: give the user ID (@U0123ABCD), '
                       'the username or the e-mail address in finish_mentions'
                       ' and controllers; until then they get no mention and '
                       'control nothing' % (', '.join(missing), note))
        self.ids = dict(self._found)

###############################################################################
# The picture: curves in, PNG out #############################################
###############################################################################

# Drawn with the standard library (zlib, struct), knowing nothing of
# Slack; _Picture, last, posts one in a thread, optionally.


# The picture, drawn with the standard library. A 5x7 font for ' ' to '~',
# drawn twice as large: a glyph is seven rows of five bits, base-32 digits.
_FONT = (
    '00000004444404aa00000aavavaa4fke5u4op248j3cik8lid440000024888428422248'
    '04lel40044v4400000c48000v00000000cc01248g0ehjlphe4c4444eeh1248vv2421he'
    '26aiv22vgu11he68guhhev124888ehhehheehhf12c0cc0cc00cc0c48248g84200v0v00'
    '8421248eh12404eh1dlleehhvhhhuhhuhhuehggghesihhhisvgguggvvggugggehgnhhf'
    'hhhvhhhe44444e72222ichikokihggggggvhrllhhhhhpljhhehhhhheuhhugggehhhlid'
    'uhhukihfgge11uv444444hhhhhhehhhhha4hhhlllahha4ahhhhha444v1248gve88888e'
    '0g84210e22222e4ah0000000000v842000000e1fhfggmphhu00egghe11djhhf00ehvge'
    '698s8880fhhf1eggmphhh40c444e20622icggikokic44444e00qllhh00mphhh00ehhhe'
    '00uhugg00fhf1100mpggg00ege1u88s889600hhhjd00hhha400hhlla00ha4ah00hhf1e'
    '00v248v244844244444448442448008l200')
# Colours told apart by colour-blind readers (Okabe and Ito), then ink.
_PALETTE = [bytes(c) for c in ((0, 114, 178), (213, 94, 0), (0, 158, 115),
                               (204, 121, 167), (230, 159, 0), (86, 180, 233),
                               (0, 0, 0))]
_INK, _GRID, _FRAME, _BEHIND = (b'\x30\x30\x30', b'\xe4\xe4\xe4',
                                 b'\xa0\xa0\xa0', b'\xc8\xc8\xc8')
# Pixels: width; a panel's height, the plot's top and height; the plot's
# margins; a text line.
_WIDTH, _PANEL, _PLOT_TOP, _PLOT, _LEFT, _RIGHT, _LINE = (
    800, 240, 46, 150, 96, 16, 18)
_PLOT_WIDTH = _WIDTH - _LEFT - _RIGHT
_LOG_DECADES = 2  # a positive series spanning more decades: log scale

# One curve of a panel, reduced to columns: (x, least, most, first, last)
# in x order; its best point (x, value) or None; its stroke in pixels (the
# widest drawn last); no label: not in the legend.
_Series = collections.namedtuple('_Series', 'label colour columns best width')


class _Canvas(object):
    """An RGB picture on white: rectangles, text and PNG bytes."""

    def __init__(self, width, height):
        self.width, self.height = width, height
        self.pixels = bytearray(b'\xff' * (width * height * 3))

    def fill(self, x0, y0, x1, y1, colour):
        """Paint [x0, x1) x [y0, y1): a slice per row, or per byte of a row
        for a tall stroke."""
        x0, x1 = max(0, int(x0)), min(self.width, int(x1))
        rows = range(max(0, int(y0)), min(self.height, int(y1)))
        stride, width = self.width * 3, 3 * (x1 - x0)
        if width <= 0 or not rows:
            return
        start = rows[0] * stride + 3 * x0
        if len(rows) > x1 - x0:
            for byte in range(width):
                self.pixels[start + byte:start + len(rows) * stride:stride] = \
                    colour[byte % 3:byte % 3 + 1] * len(rows)
        else:
            for row in range(start, start + len(rows) * stride, stride):
                self.pixels[row:row + width] = colour * (x1 - x0)

    def text(self, x, y, text, colour=_INK):
        """Write ``text`` from (x, y); return where it ends."""
        for char in text:
            index = ord(char) - 32 if ' ' <= char <= '~' else 31  # '?'
            for row, digit in enumerate(_FONT[7 * index:7 * index + 7]):
                bits = int(digit, 32)
                for column in range(5):
                    if bits & (16 >> column):
                        self.fill(x + 2 * column, y + 2 * row,
                                  x + 2 * column + 2, y + 2 * row + 2, colour)
            x += 12
        return x

    def png(self):
        """The picture as PNG bytes: 8-bit RGB, no filter, one IDAT."""
        def chunk(kind, data):
            return struct.pack('>I', len(data)) + kind + data + struct.pack(
                '>I', zlib.crc32(kind + data) & 0xffffffff)
        stride = self.width * 3
        raw = b''.join(b'\x00' + self.pixels[y * stride:(y + 1) * stride]
                       for y in range(self.height))
        return (b'\x89PNG\r\n\x1a\n' + chunk(b'IHDR', struct.pack(
            '>IIBBBBB', self.width, self.height, 8, 2, 0, 0, 0)) +
            chunk(b'IDAT', zlib.compress(raw, 6)) + chunk(b'IEND', b''))


class _Axis(object):
    """Values onto pixels 0 to ``size - 1``, with round ticks; ``widen``
    moves the ends out to ticks. Values are halved where they are added, so
    that -1e308..1e308 cannot overflow."""

    def __init__(self, low, high, size, widen=False, log=False):
        self.log, self.size = log, size
        if log:
            low, high = math.log10(low), math.log10(high)
        if not high - low > 1e-6 * max(abs(low), abs(high)):  # flat
            low, high = low - (abs(low) or 1) / 8, high + (abs(high) or 1) / 8
        self.step = step = max(1.0, _step(low, high, widen or log)) if \
            log else _step(low, high, widen)
        if widen or log:
            low = math.floor(low / step) * step
            high = math.ceil(high / step) * step
        self.low, self.high = low, high
        self.ticks = [(k * step, self.offset(k * step, scaled=True))
                      for k in range(math.ceil(low / step),
                                     math.floor(high / step) + 1)]

    def offset(self, value, scaled=False):
        """The pixel of ``value`` (``scaled``: already a logarithm)."""
        if self.log and not scaled:
            value = math.log10(value)
        return int(round((value / 2 - self.low / 2) / (
            self.high / 2 - self.low / 2) * (self.size - 1)))

    def label(self, value):
        if self.log:
            return '%g' % 10 ** value
        digits = max(0, -int(math.floor(math.log10(self.step))))
        return '%.*f' % (digits, value) if abs(value) < 1e6 and digits < 5 \
            else '%.3g' % value


def _step(low, high, widen, most=8):
    """The least 1, 2 or 5 times a power of ten with under ``most``
    multiples in the range (``widen``: out to the multiples around it)."""
    magnitude = 10.0 ** math.floor(math.log10(high / 16 - low / 16))
    for step in (magnitude * m for m in (1, 2, 5, 10, 20, 50)):
        if (math.ceil(high / step) - math.floor(low / step) if widen else
                math.floor(high / step) - math.ceil(low / step)) < most:
            return step


def _draw(panels, x_range, x_name, title=''):
    """PNG bytes of ``panels`` (lists of _Series), sharing the x axis;
    ``title`` names what the first panel plots."""
    canvas = _Canvas(_WIDTH, _PANEL * len(panels))
    x_axis = _Axis(x_range[0], x_range[1], _PLOT_WIDTH)
    for index, series in enumerate(panels):
        values = [v for s in series for c in s.columns for v in c[1:3]]
        log = min(values) > 0 and math.log10(max(values) / min(values)) > \
            _LOG_DECADES
        y_axis = _Axis(min(values), max(values), _PLOT, widen=True, log=log)
        top = index * _PANEL
        _draw_axes(canvas, top + _PLOT_TOP, x_axis, y_axis, x_name)
        for one in sorted(series, key=lambda s: s.width):  # widest on top
            _draw_curve(canvas, top + _PLOT_TOP, one, x_axis, y_axis)
        for one in series:  # the best points, over every curve
            if one.best:
                x = _LEFT + x_axis.offset(one.best[0])
                y = top + _PLOT_TOP + _PLOT - 1 - y_axis.offset(one.best[1])
                canvas.fill(x - 5, y - 5, x + 7, y + 7, _INK)
                canvas.fill(x - 3, y - 3, x + 5, y + 5, one.colour)
        _draw_legend(canvas, top, series, log, title)
        title = ''
    return canvas.png()


def _draw_axes(canvas, top, x_axis, y_axis, x_name):
    """Grid lines and labelled ticks, the frame, and the x axis's name."""
    bottom = top + _PLOT
    for value, at in y_axis.ticks:
        canvas.fill(_LEFT, bottom - 1 - at, _LEFT + _PLOT_WIDTH,
                    bottom - at, _GRID)
        label = y_axis.label(value)
        canvas.text(_LEFT - 8 - 12 * len(label), bottom - 8 - at, label)
    for value, at in x_axis.ticks:
        canvas.fill(_LEFT + at, top, _LEFT + at + 1, bottom + 4, _GRID)
        label = x_axis.label(value)
        canvas.text(_LEFT + at - 6 * len(label), bottom + 6, label)
    width, height = _PLOT_WIDTH, _PLOT
    for x0, y0, x1, y1 in ((0, -1, width, 0), (0, height, width, height + 1),
                           (-1, -1, 0, height + 1),
                           (width, -1, width + 1, height + 1)):
        canvas.fill(_LEFT + x0, top + y0, _LEFT + x1, top + y1, _FRAME)
    canvas.text(_WIDTH - _RIGHT - 12 * len(x_name), bottom + _LINE + 4,
                x_name)


def _draw_curve(canvas, top, series, x_axis, y_axis):
    """Each column's stroke, joined to the next by a line."""
    width = series.width
    bottom = top + _PLOT - 1

    def row(value):
        return bottom - y_axis.offset(value)
    previous = None  # (column, row) where the curve was last
    for x, least, most, first, last in series.columns:
        at = _LEFT + x_axis.offset(x)
        if previous:  # the line from there, one column at a time
            (start, was), now = previous, row(first)
            for step in range(start + 1, at + 1):
                ends = [was + (now - was) * (step - d - start) / (at - start)
                        for d in (1, 0)]
                canvas.fill(step, min(ends), step + width, max(ends) + width,
                            series.colour)
        canvas.fill(at, row(most), at + width, row(least) + width,
                    series.colour)
        previous = at, row(last)


def _draw_legend(canvas, top, series, log, title):
    """The title, then each labelled series' colour and label above the
    plot; 'log' if so."""
    x, y = _LEFT, top + 6
    if title:
        x = canvas.text(x, y, title + ':') + 18
    for one in (s for s in series if s.label):
        width = 24 + 12 * len(one.label)
        if x + width > _WIDTH - _RIGHT and x > _LEFT:
            x, y = _LEFT, y + _LINE
        canvas.fill(x, y + 4, x + 16, y + 10, one.colour)
        x = canvas.text(x + 22, y, one.label) + 18
    if log:
        canvas.text(8, top + _PLOT_TOP - _LINE, 'log')


class _Columns(object):
    """The log's counter as a sequence for bisect, and where each pixel
    column starts in the log."""

    def __init__(self, log, rows, counter):
        self._log = log
        self._rows = rows
        self._counter = counter if all(_Trends._number(
            o, counter) is not None for o in (log[0], log[rows - 1])) else None
        self.x_range = (self[0], self[rows - 1])
        step = (self.x_range[1] - self.x_range[0]) / (_PLOT_WIDTH - 1)
        self.starts = [0] + [bisect.bisect_left(
            self, self.x_range[0] + (c - 0.5) * step)
            for c in range(1, _PLOT_WIDTH)] + [rows]

    def __len__(self):
        return self._rows

    def __getitem__(self, index):
        if self._counter is None:
            return index + 1
        return self._log[index][self._counter]

    def reduce(self, entry):
        """(x, least, most, first, last) of ``entry`` in each column."""
        columns = []
        for start, end in zip(self.starts, self.starts[1:]):
            chunk = self._log[start:end]
            values = [o.get(entry) for o in chunk]
            try:  # a finite sum: all are numbers, none NaN or infinite
                usual = math.isfinite(sum(values))
            except TypeError:
                usual = False
            if not usual:  # as the trends read them
                values = [v for v in (_Trends._number(o, entry)
                                      for o in chunk) if v is not None]
            if values:
                columns.append((self[start], min(values), max(values),
                                values[0], values[-1]))
        return columns

_PICTURE_TRIES = 2  # a file host a proxy refuses must not hold the end


class _Picture(object):
    """A picture posted once in a thread. Optional: a refusal warns, and a
    passing failure is retried with the end _PICTURE_TRIES times at most;
    the message is told already."""

    def __init__(self, client, warn, plot, filename, title):
        self._client, self._warn = client, warn
        self._filename, self._title = filename, title
        self._done = not plot
        self._tries = 0

    def post(self, posted, draw, *args):
        """Post what ``draw(*args)`` returns (None: nothing) in ``posted``'s
        thread, unless posted already."""
        if self._done:
            return
        self._tries += 1
        try:
            picture = draw(*args)
            if picture:
                self._client.upload(posted.channel, posted.ts,
                                    self._filename, self._title, picture)
        except _SlackError as error:
            if error.kind in _TRANSIENT and self._tries < _PICTURE_TRIES:
                raise
            fix = error.fix()
            if error.error == 'missing_scope':
                fix = _PICTURE_FIX
            self._warn('picture', 'cannot post the picture of the curves '
                       '(%s): %s' % (error.error, fix))
        self._done = True

    def keep(self):
        """A picture posted already (a summary updated in place) stays."""
        self._done = True


###############################################################################
# Sending: the newest state, from a thread ####################################
###############################################################################

# _Worker (newest wins) runs _Sender, which brings Slack to each
# state through the parts above, paced by _Pacing; at the end,
# _Finale. What it learns goes back as one _Learned.


class _Worker(object):
    """A daemon thread working on the newest item offered, knowing nothing
    of Slack; ``work(item)`` returns True when all is done. ``close`` sets a
    deadline that nothing passes (a hung call is left behind). A crash in
    ``work`` is one warning."""

    def __init__(self, work):
        self._work = work
        self._newest = None  # replaced whole: one store is atomic
        self._wake, self._closed = threading.Event(), threading.Event()
        self._done = threading.Event()
        self._deadline = self.timeout = None  # written once, by close
        self._soon = None  # seconds before working again, unoffered
        self.crashed = False
        self._warned = set()
        thread = threading.Thread(target=self._run, name='slack_report')
        thread.daemon = True
        thread.start()

    def offer(self, item):
        self._newest = item
        if not self._wake.is_set():  # cheaper than setting it again
            self._wake.set()

    def close(self, timeout):
        self.timeout, self._deadline = timeout, time.monotonic() + timeout
        self._closed.set()
        self._wake.set()

    def join(self):
        """Whether the thread ended before the deadline."""
        return self._done.wait(max(0.0, self.left()))

    def left(self):
        """Seconds before the deadline; infinite before ``close``."""
        return self._deadline - time.monotonic() if self.closing else \
            float('inf')

    @property
    def closing(self):
        return self._closed.is_set()

    def again(self):
        """Work on the newest item again, without waiting for an offer."""
        self._wake.set()

    def soon(self, seconds):
        """Work on the newest item again within ``seconds`` (None: not
        before a newer one is offered)."""
        self._soon = seconds

    def warn(self, key, message):
        if key not in self._warned and self.left() > 0:
            self._warned.add(key)
            _warn_quietly(message)

    def wait(self, seconds, until_closed=False):
        """Wait ``seconds``, not past the deadline (``until_closed``: nor
        past ``close``); whether ``close`` came."""
        end = time.monotonic() + seconds
        if not self._closed.wait(seconds):
            return False
        if not until_closed:
            time.sleep(max(0.0, min(end - time.monotonic(), self.left())))
        return True

    def _run(self):
        finished = False
        try:
            while not finished:
                soon, self._soon = self._soon, None
                self._wake.wait(soon)
                self._wake.clear()
                if self.left() <= 0:
                    return
                finished = self._work(self._newest)
        except Exception as error:  # a bug here must not go unnoticed
            self.crashed = True
            _warn_quietly('slack_report stopped after an unexpected %s: %s'
                          % (type(error).__name__, error))
        finally:
            self._done.set()


class _Pacing(object):
    """When the sender may call Slack next, in seconds; it never sleeps."""

    backoff_first = 0.5  # after the first failure in a row; then doubling
    backoff_max = 30.0  # while training runs
    backoff_max_ending = 2.0  # once training has ended
    # After a 429 (the bot's runs share one budget and heard the same wait)
    # the interval grows steeply, recovers gently, and retries spread out.
    slowdown = 4.0
    limited_interval = 60.0  # the interval after a 429, at least
    interval_max = 120.0
    recovery = 0.9  # the interval shrinks so after each success
    # At the end, after a 429: a random wait in a window widening by this
    # with each refusal (linear: doubling left 20 runs ending together at
    # 40 s, where this took 20 s, against a post a second).
    spread_step = 2.0
    # A run Slack never answered (only HTML pages, resets, 5xx, hung
    # answers) gives its end this many tries, and this many ``timeout`` of
    # waiting on its requests: room for one more try on a fresh connection,
    # not for a whole flush_timeout per run. A fast failure costs a try, a
    # hung request its time; the backoff between tries costs neither.
    unanswered_tries = 5
    unanswered_timeouts = 2

    def __init__(self, min_interval, timeout):
        self.min_interval = self.interval = min_interval
        self.timeout = timeout
        self.failures = 0  # in a row
        self.contended = False  # a 429 came, and no spread since
        self.refused_at_end = 0
        self.tries_at_end = 0  # the tries that failed since the close
        self.rested_at_end = 0.0  # the backoff given since the close

    def succeeded(self):
        self.failures = 0
        self.interval = max(self.min_interval, self.interval * self.recovery)

    def retry(self, error, left, closed, answered):
        """The waits before trying again after ``error`` (as ``failed``), or
        None to give up: at the end (``left`` seconds of the ``closed`` ones
        left), if Slack was never reached or a try would come too late."""
        ending = left < float('inf')
        if ending and not (answered or error.connected):
            return None  # no route to Slack: the end waits for none
        waits = self.failed(error, ending)
        if not ending:
            return waits
        self.tries_at_end += 1
        if not self.fits(waits[0][0], left,
                         closed - left - self.rested_at_end, answered):
            return None
        self.rested_at_end += waits[0][0]  # the end's only wait
        return waits

    def failed(self, error, ending):
        """The waits after ``error``: (seconds, whether the end cuts it
        short). Retry-After always holds; while training, a random part of
        the interval follows, so runs told the same do not return together."""
        self.failures += 1
        backoff = min(self.backoff_max_ending if ending else self.backoff_max,
                      self.backoff_first * 2 ** (self.failures - 1))
        if error.kind != 'slow_down':
            return [(backoff, not ending)]
        self.interval = max(self.min_interval, min(self.interval_max, max(
            self.limited_interval, self.slowdown * self.interval)))
        self.contended = True
        if ending:
            self.refused_at_end += 1
        return [(error.retry_after or backoff, False)] + (
            [] if ending else [(random.uniform(0, self.interval), True)])

    def fits(self, wait, left, waited, answered):
        """Whether a try after ``wait`` fits the end: before the deadline
        (``left``); Slack unanswered so far, the try's own timeout too,
        within ``unanswered_tries`` and within ``unanswered_timeouts`` of
        waiting on requests since the close (``waited``)."""
        if answered:
            return wait <= left
        return self.tries_at_end < self.unanswered_tries and (
            wait + self.timeout <= left) and (
                waited + self.timeout <= self.unanswered_timeouts *
                self.timeout)

    def spread(self, left, request):
        """After a 429 at the end: a random wait, leaving ``request``
        seconds before the deadline (``left``); 0 without."""
        if not self.contended:
            return 0.0
        self.contended = False  # once: a later 429 spreads anew
        window = self.spread_step * self.refused_at_end
        return random.uniform(0, max(0.0, min(window, left - request)))


class _Finale(object):
    """The end's steps: final status, mention, switch deleted, sweep,
    picture; each once however often the end is retried. Mentions notify
    once (in a new post's text, else a reply); if ``quiet``, only when no
    sweep's summary will. ``sweeping`` gives the sweep while the run still
    reports in one; ``spread`` waits the end's share of Slack's pace."""

    def __init__(self, client, message, posted, switch, sweeping, spread,
                 warn, plot):
        self._client, self._message, self._posted = client, message, posted
        self._switch, self._sweeping = switch, sweeping
        self._spread, self._warn = spread, warn
        self._picture = _Picture(client, warn, plot, 'curves.png',
                                 'Training curves')
        self.shown = False  # the final status is out

    def run(self, state, text, card, quiet, user_ids):
        """Bring Slack to the final ``state`` (raises what failed)."""
        self._spread()
        mentions = self._message.mentions(user_ids)
        # The result first, on every path, even when Slack has not answered
        # yet: a report its sweep never counts would read "not reported".
        if self._sweeping():
            self._finish(card)
        self._posted.show(text, metadata=_metadata(self._message, _placed(
            card, self._posted, self._switch)), notifies=bool(
                mentions) and not quiet and all(m in text for m in mentions))
        self.shown = True
        if self._sweeping():  # now leading to the report, if first posted
            self._finish(card)
        self._spread()
        if not quiet:  # told at once, before the sweep is
            self._announce(state, user_ids, False)
        self._switch.seek(self._posted, finishing=True)
        self._switch.retire()
        self._switch.drop(self._posted.channel, finishing=True)
        sweep = self._sweeping()
        told = sweep and sweep.decide(mentions)
        self._announce(state, user_ids, quiet and told)
        self._picture.post(self._posted, self._message.picture, state)

    def _finish(self, card):
        self._sweeping().finish(_placed(card, self._posted, self._switch),
                                self._posted.channel)

    def _announce(self, state, user_ids, quiet):
        self._posted.announce(*self._message.reply(
            state, user_ids, quiet=quiet or self._posted.notified))


class _Sender(object):
    """Brings Slack to the newest state offered, on a ``_Worker``: report,
    scheduled reply, sweep; at the end mention and picture. What it learns
    is published in ``learned``."""

    def __init__(self, client, message, learned, options, handed,
                 requeued):
        self._client, self._message = client, message
        self._worker = _Worker(self._work)
        self.offer, self.warn, self.close, self.poke = (
            self._worker.offer, self._worker.warn, self._worker.close,
            self._worker.again)
        group, size = options.group, options.size
        self._sweep = _Sweep(client, self._worker, group, size,
                             options.plot) if group else None
        self._posted = _Posted(client, learned.channel, learned.ts)
        self._switch = _Switch(client, self.warn, options.stale_after,
                               learned.switch, learned.ts is not None)
        self._pacing = _Pacing(options.min_interval, client.timeout)
        self._control = _Control(client, self.warn, options.control, size)
        self._people = _People(client, message.names + self._control.names,
                               self.warn)
        self._alarms = _Alarms(client, handed, learned.ts is not None,
                               message.fired, self._control)
        self._finale = _Finale(client, message, self._posted, self._switch,
                               self._sweeping, self._spread, self.warn,
                               options.plot)
        self._failures = _Failures(client, self._worker, message,
                                   self._posted, self._switch, self._pacing,
                                   self._rest)
        self._user_ids = None
        self._settled = False  # the end is out
        self._lives = _Lives(client, self._posted, self._switch, bool(
            group) and learned.ts is None and requeued)
        self.learned = learned

    def resume(self, learned):
        """A snapshot loaded after the report started (``autoload``)."""
        self._lives.loaded = learned
        self._worker.again()

    def hurry(self, seconds):
        """End within ``seconds`` at most (a signal came amid the end)."""
        self._worker.close(min(seconds, self._worker.left()))

    def join(self):
        """Wait for the end within its deadline; one warning if it is not
        out (and no warning already said why)."""
        finished = self._worker.join()
        said = self._failures.stopped or self._worker.crashed
        if not (finished and (self._settled or said)):
            _warn_quietly(_unfinished(self._worker.timeout,
                                      self._failures.unreached,
                                      self._finale.shown))

    def _sweeping(self):
        """The sweep, if this run still reports in one: not once Slack
        refused its messages' metadata, which sweeps read."""
        if self._sweep and self._sweep.on and self._message.metadata:
            return self._sweep
        return None

    def _work(self, state):
        try:
            return self._step(state)
        except _SlackError as error:
            return self._failures.handle(error)
        finally:
            self._publish()

    def _publish(self):
        sweep = self._sweeping()
        self.learned = _Learned(self._posted.channel, self._posted.ts,
                                self._switch.id, self._user_ids,
                                bool(sweep and sweep.size),
                                self._control.command)

    def _step(self, state):
        """Bring Slack to ``state``; True once a final one is all out."""
        final = _ended(state)
        margin = None if final else self._switch.margin(state)
        self._switch.seek(self._posted)
        if final:  # the end's mentions: retried with the end
            self._user_ids = self._people.resolve(final=True)
        sweep = self._sweeping()
        quiet = _quiet(state.kind, bool(sweep and sweep.size))
        text = self._message.render(state, self._user_ids, quiet)
        card = dict(self._message.card(state), alerts=self._alarms.keys)
        self._lives.go_on(sweep, card)  # a task's later life
        # If a first post went unanswered: the one that landed.
        self._posted.adopt(card['run'], final)
        self._control.answer(self._posted, state.answers)
        if self._user_ids is not None:  # alerts notify the people named
            self._alarms.send(self._posted, self._message.mentions(
                self._user_ids), final)
        if final:
            self._finale.run(state, text, card, quiet, self._user_ids)
            self._settled = True
            return True
        self._show(state, text, card, margin, sweep)
        self._pacing.succeeded()
        # Back by the time the switch must move if reports go on, so that it
        # posts only if none came for stale_after.
        self._rest(min(self._pacing.interval, max(
            0.0, self._switch.due(margin) - time.time())))
        return False

    def _show(self, state, text, card, margin, sweep):
        """The report with its entry first, if in a sweep (a run killed at
        once counts), and its silence reply (before the first post, in the
        sweep's thread: a run killed at once is told)."""
        where = (card, self._posted, self._switch, state, margin)
        if sweep:
            sweep.enter(_placed(*where), self._posted.channel)
        keep = (self._posted, state, margin, self._message)
        before = sweep.anchor.posted if sweep else None
        self._switch.keep(*keep, self._user_ids,
                          thread=before)  # first: it names the newest status
        self._posted.show(text, metadata=_metadata(
            self._message, _placed(*where)))
        self._publish()  # a snapshot taken from now on carries the message
        self._user_ids = self._people.resolve()  # never before a post
        self._switch.keep(*keep, self._user_ids)  # after a first post
        if sweep:  # where the report now is, when the moved reply is due
            sweep.follow(_placed(*where), self._posted.channel,
                         self._message.mentions(self._user_ids))

    def _rest(self, seconds, until_closed=True):
        """Wait ``seconds`` (not past the end; nor past ``close``, unless a
        Retry-After says), reading the thread meanwhile whenever it is due:
        its reads keep their own pace. Between reports too, later."""
        end = time.monotonic() + seconds
        while True:
            again = None if self._worker.closing else self._control.poll(
                self._posted, self._user_ids)
            self._publish()  # a snapshot may be taken meanwhile
            left = end - time.monotonic()
            if left <= 0 or self._worker.wait(min(
                    left, again or left), until_closed) and until_closed:
                break
        self._worker.soon(again)

    def _spread(self):
        self._worker.wait(self._pacing.spread(self._worker.left(),
                                              self._client.timeout))


class _Failures(object):
    """What the sender does after a failed call: less metadata, then none
    (and no sweep); a fatal error ``stopped`` the run's reports, with one
    warning; a message gone is posted anew; else a retry after the
    pacing's waits (``rest`` waits as the sender does), unless the end
    cannot wait. ``unreached``: the error, while Slack never answered."""

    def __init__(self, client, worker, message, posted, switch, pacing,
                 rest):
        self._client, self._worker, self._message = client, worker, message
        self._posted, self._switch = posted, switch
        self._pacing, self._rest = pacing, rest
        self.unreached = None
        self.stopped = False

    def handle(self, error):
        """After a failed call: True ends the work, else it is retried."""
        ending = self._worker.closing
        # Why the end may be cut short: Slack never answered this run.
        self.unreached = None if self._client.answered else error
        if 'metadata' in error.error:  # too large, or refused: less, none
            if not self._message.refused():
                self._worker.warn('metadata', 'Slack refuses the metadata of '
                                  "this run's messages (%s): no sweep"
                                  % error.error)
        elif error.kind == 'fatal':
            self.stopped = True
            # A CA or a proxy on the way fails here, not at Slack.
            who = 'Slack refused the report'
            if error.error.startswith('cannot reach'):
                who = 'The report cannot reach Slack'
            self._worker.warn('fatal', '%s (%s): %s. slack_report stops '
                              'sending for this run.'
                              % (who, error.error, error.fix()))
            return True
        elif error.kind == 'gone':  # deleted or frozen: post anew
            self._posted.forget()
            self._switch.retire()
        elif self._retry(error, ending):
            return True
        self._worker.again()
        return False

    def _retry(self, error, ending):
        """Wait before the retry; True if there is none (the end is cut
        short)."""
        if self._client.answered or not ending:  # else said at the end
            _retrying(self._worker.warn, error, 'in the background')
        waits = self._pacing.retry(error, self._worker.left(),
                                   self._worker.timeout,
                                   self._client.answered)
        for seconds, cut_by_the_end in waits or ():
            self._rest(seconds, cut_by_the_end)
        return waits is None

def _retrying(warn, error, when):
    """One warning a cause for a call that failed and is tried again
    ``when``; none for Slack's pacing (a 429 delays, and delivers: only a
    final it keeps out warns, at the end)."""
    if error.kind != 'slow_down':
        warn(error.cause, 'Slack call failed (%s); retrying %s'
             % (error.error, when))


class _Lives(object):
    """A task's later life goes on in its earlier life's message: the one a
    snapshot ``loaded`` after the report started carries (``autoload``),
    or, for an array task its scheduler started again (requeued, in a
    sweep), the one its sweep's thread tells."""

    def __init__(self, client, posted, switch, requeued):
        self._client, self._posted, self._switch = client, posted, switch
        self._requeued = requeued  # by its scheduler, in a sweep
        self.loaded = None  # a snapshot's _Learned, from the training thread

    def go_on(self, sweep, card):
        """Before the next step: on with the earlier message, if any."""
        loaded = self.loaded
        if loaded is not None and loaded.ts and loaded.ts != self._posted.ts:
            self._take(loaded.channel, loaded.ts, loaded.switch)
        self.loaded = None
        if self._requeued and sweep:
            ts = sweep.earlier(card, self._posted.channel)
            if ts and self._posted.ts is None:
                self._take(sweep.anchor.posted.channel, ts, None)
            self._requeued = False

    def _take(self, channel, ts, switch):
        """The message at ``ts`` is this run's: the one this life posted
        meanwhile goes."""
        if self._posted.ts:
            try:
                self._client.call('chat.delete', ts=self._posted.ts,
                                  channel=self._posted.channel)
            except _SlackError as error:  # else gone already
                if error.kind in _TRANSIENT:
                    raise
        self._posted.take(channel, ts)
        self._switch.take(switch)


def _placed(card, posted, switch, state=None, margin=None):
    """``card`` with the report's ts and when the run counts as silent,
    as it is sent: within the bounds its readers check."""
    return _bounded(dict(card, report=posted.ts or '', due=switch.due_by(
        state, margin)), _CARD)


def _metadata(message, card):
    """The metadata a report of ``card`` (as placed) carries: none once
    Slack refused the ``message``'s."""
    return (_RUN, card) if message.metadata else None


def _unfinished(timeout, unreached, shown):
    """The warning when the end did not get out before the deadline (cut
    short after ``unreached``, the error of a call that got no answer;
    ``shown``: the final status was out, only later steps were not)."""
    if shown:
        return ('the end of the report did not finish within flush_timeout'
                '=%gs: the message shows the final status, but its mention, '
                "the sweep's summary or the picture may be missing" % timeout)
    if unreached:
        why = (' (cut short: Slack was never reached in this run: %s; %s)'
               % (unreached.error, unreached.fix()))
        advice = ''
    else:
        why = ''
        advice = (' (Slack was slow or busy: a larger flush_timeout gives it '
                  'more time)')
    return ('Slack did not take the final report within flush_timeout=%gs%s;'
            ' the message may not show the final status%s' % (
                timeout, why, advice))

###############################################################################
# Command line ################################################################
###############################################################################

def _demo_trainer(out):
    """A tiny classifier that trains in a few seconds, and its trainer."""
    import chainer.functions as F
    import chainer.links as L
    from chainer import training

    xp = chainer.backend.CpuDevice().xp
    rng = xp.random.RandomState(0)
    points = rng.randn(600, 2).astype(xp.float32)
    labels = (points[:, 0] * points[:, 1] > 0).astype(xp.int32)
    train = chainer.datasets.TupleDataset(points[:500], labels[:500])
    valid = chainer.datasets.TupleDataset(points[500:], labels[500:])
    model = L.Classifier(chainer.Sequential(L.Linear(2, 16), F.relu,
                                            L.Linear(16, 2)))
    optimizer = chainer.optimizers.Adam(0.05).setup(model)
    updater = training.updaters.StandardUpdater(
        chainer.iterators.SerialIterator(train, 50), optimizer)
    trainer = training.Trainer(updater, (15, 'epoch'), out=out)
    trainer.extend(_extensions.Evaluator(chainer.iterators.SerialIterator(
        valid, 100, repeat=False, shuffle=False), model))
    trainer.extend(_extensions.LogReport(trigger=(1, 'epoch')))
    return trainer


def _demo():
    """Train a tiny classifier for a few seconds, reporting as it goes."""
    if chainer is None:
        print(_NO_CHAINER)
        return 1
    with warnings.catch_warnings():  # without credentials: said below
        warnings.simplefilter('ignore', SlackReportWarning)
        report = SlackReport(None, None, [
            'epoch', 'main/loss', 'validation/main/loss', 'main/accuracy',
            'validation/main/accuracy', 'elapsed_time'], min_interval=1.0)
    if report.available:
        print('Posting to Slack channel %s ...' % report.channel)
    else:
        print('No SLACK_ACCESS_TOKEN/SLACK_CHANNEL_ID: showing the message '
              'it would post.\n')
    with tempfile.TemporaryDirectory(prefix='slack_report_demo_') as out:
        trainer = _demo_trainer(out)
        trainer.extend(report, trigger=(1, 'epoch'))
        # Slowed down on purpose, so that the updates can be watched.
        trainer.extend(lambda _: time.sleep(0.3), trigger=(1, 'epoch'))
        if not report.available and sys.stdout.isatty():
            trainer.extend(lambda _: print('\033[H\033[J' + _preview(
                report.message)), trigger=(1, 'epoch'))
        trainer.run()
    if not report.available:
        print(_preview(report.message))
        with open('slack_report_demo.png', 'wb') as picture:
            picture.write(report.picture)
        print('\nThe picture it would post in the thread at the end: %s'
              % os.path.abspath('slack_report_demo.png'))
    print('\nDone: %s' % _preview(report.message.splitlines()[0]))
    if report.available:
        print('The message: %s' % report.link())
    return 0


def _link(client, channel, ts):
    """Where the message ``ts`` is: its permalink, else its channel and ts.
    """
    if ts is None:
        return 'none: Slack did not take it (see the warning above)'
    try:
        link = client.call('chat.getPermalink', channel=channel,
                           message_ts=ts).get('permalink')
    except _SlackError:
        link = None
    if isinstance(link, str) and re.fullmatch(r'https://[\x21-\x7e]+', link):
        return link
    return 'channel %s, ts %s' % (channel, ts)


def _connect(token, channel, api_url):
    """A client and the channel; None (and why, printed) if bad."""
    try:
        token, channel, api_url = _settings(token, channel, api_url)
    except ValueError as error:
        print('FAIL  %s' % error)
        return None
    if not token or not channel:
        print('FAIL  no %s: set SLACK_ACCESS_TOKEN and SLACK_CHANNEL_ID (or '
              'pass --token and --channel)' % ('token' if not token else
                                               'channel'))
        return None
    hide = _Secrets(sys.argv).hide  # --token's value among the secrets
    return _SlackClient(token, api_url, 10.0, hide), channel


def _check(token, channel, api_url):
    """Try what a report does, printing each step and fix; 0 if it works."""
    connected = _connect(token, channel, api_url)
    if connected is None:
        return 1
    client, channel = connected
    who = _check_step(client, 'the token is valid (auth.test)', 'auth.test')
    if who is None:
        return 1
    print('      bot %s in workspace %s' % (who.get('user'), who.get('team')))
    posted = _check_step(client, 'the bot can post in %s' % channel,
                         'chat.postMessage', channel=channel,
                         text='slack_report --check: a test message, '
                         'deleted at once')
    if posted is None or not _check_message(client, posted['channel'],
                                            posted['ts']):
        return 1
    print('A SlackReport with this token and channel will work.')
    return 0


def _check_step(client, what, method, note=None, **params):
    """Call ``method``; print ok, or what failed and how to fix it (only a
    note, giving the fix ``note``, for what reports can do without)."""
    try:
        answer = client.call(method, **params)
    except _SlackError as error:
        if not client.answered:  # the way there failed, not the token
            what = 'Slack answers from here (the network, or a proxy)'
        print('note  %s: no (%s): %s' % (what, error.error, note) if note else
              _failure(what, error))
        return None
    print('ok    %s' % what)
    return answer


def _failure(what, error):
    return _Secrets(sys.argv).hide('FAIL  %s: %s\n      fix: %s' % (
        what, error.error, error.fix()))


def _check_message(client, channel, ts):
    """Update the test message, schedule a reply, try the optional scopes,
    delete it; whether what a report needs worked."""
    updated = _check_step(client, 'the bot can update its message',
                          'chat.update', channel=channel, ts=ts,
                          text='slack_report --check: updated')
    scheduled = _check_step(client, 'the bot can schedule a reply',
                            'chat.scheduleMessage', channel=channel,
                            thread_ts=ts, post_at=int(time.time()) + 600,
                            text='slack_report --check: a scheduled reply')
    if scheduled:
        _check_step(client, 'the scheduled reply is deleted',
                    'chat.deleteScheduledMessage', channel=channel,
                    scheduled_message_id=scheduled['scheduled_message_id'])
    _check_step(client, 'the bot can upload the picture of the curves',
                'files.getUploadURLExternal', _PICTURE_FIX,
                filename='check.png', length=1)
    _check_step(client, 'the bot can read threads, for sweeps and commands',
                'conversations.replies', 'add the channels:history scope '
                '(groups:history for a private channel) to ' + _APP_PAGE +
                ', or pass group=False and controllers=None',
                channel=channel, ts=ts)
    _check_step(client, 'names such as @alice resolve', 'users.list',
                'add the users:read scope to ' + _APP_PAGE + ', or give '
                'user IDs (@U0123ABCD) in finish_mentions', limit=1)
    _check_step(client, 'the bot can find a sweep among the pins',
                'pins.list', 'add the pins:read and pins:write scopes to ' +
                _APP_PAGE + ': else a late run may not find its sweep',
                channel=channel)
    _check_step(client, 'the test message is deleted', 'chat.delete',
                channel=channel, ts=ts)
    return updated is not None and scheduled is not None


def _summarize(group, post, token, channel, api_url):
    """Print the leaderboard of ``group`` as the channel holds it, write
    its picture and, with ``post``, post both and close the sweep."""
    connected = _connect(token, channel, api_url)
    if connected is None:
        return 1
    # No worker here: notes are printed, and nothing waits.
    sweep = _Sweep(connected[0], argparse.Namespace(closing=True, warn=lambda
                                                     _, note: print(note)),
                   group, None)
    try:
        view = sweep.anchor.find(connected[1], False) and sweep.anchor.read()
    except _SlackError as error:
        print(_failure('reading the channel', error))
        return 1
    if not (view and view.cards):
        print('No runs of sweep %r in the channel (on its newest page or '
              'among its pins)' % group)
        return 1
    print(_preview(_summary(group, view.cards, view.missing, [],
                            sweep.link())))
    picture = _sweep_picture(view.cards)
    name = 'slack_report_%s.png' % re.sub(r'[^\w.-]', '_', group)
    if picture:
        with open(name, 'wb') as out:
            out.write(picture)
        print('\nThe picture: %s' % os.path.abspath(name))
    if post:
        sweep.closer.sum_up(view, [], sweep.link())
        print('Posted.')
    return 0


def _main(argv=None):
    parser = argparse.ArgumentParser(
        prog='slack_report.py', description=__doc__.split('\n')[0])
    for flag, text in (
            ('--demo', 'train a tiny model for a few seconds and post its '
             'report (or show it, without credentials)'),
            ('--check', 'post, update, schedule a reply to and delete a test '
             'message, and say how to fix a failure'),
            ('--post', 'with --summary: post it to the channel too')):
        parser.add_argument(flag, action='store_true', help=text)
    parser.add_argument('--summary', metavar='GROUP', help='print the '
                        "leaderboard of a sweep and write its picture")
    parser.add_argument('--token', help='default $SLACK_ACCESS_TOKEN (better'
                        ': arguments show in ps)')
    parser.add_argument('--channel', help='default $SLACK_CHANNEL_ID')
    parser.add_argument('--api-url', help='default $SLACK_API_URL or '
                        'https://slack.com/api/')
    parser.add_argument('--version', action='version', version=__version__)
    args = parser.parse_args(argv)
    if args.check:
        return _check(args.token, args.channel, args.api_url)
    if args.summary:
        return _summarize(args.summary, args.post, args.token, args.channel,
                          args.api_url)
    if args.demo:
        return _demo()
    parser.print_help()
    return 2


if __name__ == '__main__':
    sys.exit(_main())
