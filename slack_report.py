"""slack_report: one Slack message per Chainer training, kept up to date.

Copy this file next to your training script, then::

    import os
    from slack_report import SlackReport

    trainer.extend(SlackReport(os.environ.get('SLACK_ACCESS_TOKEN'),
                               os.environ.get('SLACK_CHANNEL_ID'),
                               ['epoch', 'main/loss', 'validation/main/loss',
                                'elapsed_time'],
                               finish_mentions='@U0123ABCD'),
                   trigger=(1, 'epoch'))
    trainer.run()

The message shows the table PrintReport would print, the run's status and,
once training ends, a mention posted as a thread reply so that it notifies.
All network I/O runs on a background thread; Slack being slow, down or
misconfigured ends as a warning, never as an exception in training.

Copyright (c) 2026 the slack_report authors. License: MIT (see LICENSE).
"""

import argparse
import http.client
import ipaddress
import json
import math
import os
import random
import re
import shlex
import socket
import string
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import warnings

try:
    import chainer
    from chainer.training import extensions as _extensions
except ImportError as _error:  # pragma: no cover - depends on the machine
    raise ImportError(
        'slack_report needs Chainer: pip install "chainer==7.8.1" "numpy<2" '
        '(on Python 3.11, run "pip install wheel" first and add '
        '--no-build-isolation). Original error: %s' % _error)

__version__ = '1.0.0'
__all__ = ['SlackReport', 'SlackReportWarning']


class SlackReportWarning(UserWarning):
    """Category of every warning slack_report gives (filter it if you like)."""


def _warn(message):
    warnings.warn(message, SlackReportWarning, stacklevel=2)


###############################################################################
# Text helpers ################################################################
###############################################################################

def _escape(text):
    """Escape the three characters Slack reads as markup."""
    return text.replace('&', '&amp;').replace('<', '&lt;').replace('>', '&gt;')


def _units(text):
    """Length in UTF-16 code units: the safe way to count Slack's limit."""
    return len(text.encode('utf-16-le')) // 2


def _shorten(raw, limit):
    """Escape ``raw`` and cut it with an ellipsis to at most ``limit`` units.

    The cut falls between characters of ``raw``, so it never splits an
    escape such as ``&amp;`` nor a surrogate pair.
    """
    escaped = _escape(raw)
    if _units(escaped) <= limit:
        return escaped
    if limit < 1:
        return ''
    used, kept = 1, []  # the ellipsis takes one unit
    for char in raw:
        piece = _escape(char)
        used += _units(piece)
        if used > limit:
            break
        kept.append(piece)
    return ''.join(kept) + '\u2026'


def _format_elapsed(seconds):
    minutes, seconds = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return '%d:%02d:%02d' % (hours, minutes, seconds)


def _progress_bar(done, length, speed, width=20):
    """``done`` of ``length`` as a bar, a percentage and the ETA at
    ``speed`` (units a second); '' when the length is unknown."""
    if not length:
        return ''
    fraction = min(1.0, max(0.0, done / length))
    filled = int(fraction * width)
    text = '%s%s %3d%%' % ('\u2588' * filled, '\u2591' * (width - filled),
                           fraction * 100)
    if speed > 0 and fraction < 1:
        text += '  ETA %s' % _format_elapsed((length - done) / speed)
    return text


def _git_commit():
    """Short commit of the working directory, '+' when dirty; '' if none."""
    def git(*args):
        return subprocess.run(('git',) + args, stdout=subprocess.PIPE,
                              stderr=subprocess.DEVNULL, timeout=10,
                              universal_newlines=True)
    try:
        commit = git('rev-parse', '--short', 'HEAD')
        if commit.returncode:
            return ''
        dirty = git('status', '--porcelain', '--untracked-files=no').stdout
    except (OSError, subprocess.SubprocessError):
        return ''
    return commit.stdout.strip() + ('+' if dirty.strip() else '')


###############################################################################
# Length normalizers ##########################################################
###############################################################################
# Each takes the cost of every line of a non-empty table (UTF-16 units once
# escaped, newline included) and a budget, and returns the indices of the
# lines to keep, in order: at least one, as a lone line that does not fit is
# shortened by the caller.

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
    """Keep the first and newest lines and every k-th one between them.

    k is the smallest interval that fits. No kept line costs less than the
    cheapest line, which bounds how many can be kept: the search starts at
    the interval that bound allows and, as table lines have nearly equal
    widths, ends within a step or two. Each step sums only the kept lines.
    """
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


_NORMALIZERS = {'thin_out': _thin_out, 'fifo': _fifo, 'lifo': _lifo}
_NORMALIZER_NAMES = "'thin_out', 'FIFO', 'LIFO'"


###############################################################################
# Template ####################################################################
###############################################################################

DEFAULT_TEMPLATE = ('{status}  {elapsed}  {progress}\n'
                    '{hostname}:{pwdshort}  `{cmd} {args}`  {git}  '
                    'pid {pid} {processes}\n'
                    '{trends}\n{content}\n{finish_mentions}')

_PLACEHOLDERS = ('status', 'hostname', 'pwd', 'pwdshort', 'cmd', 'args',
                 'elapsed', 'progress', 'trends', 'git', 'pid', 'processes',
                 'content', 'finish_mentions')
_FENCE = '```'
_CONTENT_MARK = '\x00'  # stands for {content} while the rest is measured


def _compile_template(template, known):
    """Return ``template`` with every placeholder not in ``known`` kept as
    written, and the names of the known ones it uses.

    Raises ValueError at once for text that is not format syntax, so a typo
    fails at construction rather than at the first report.
    """
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
              'known ones: %s' % (', '.join(unknown),
                                  ', '.join(known)))
    return compiled, used


class _Table(object):
    """The stream PrintReport writes to, and the table it wrote.

    Writing only appends to a list, at C speed, on the training thread;
    the text is split into lines and measured when it is rendered, each
    line once, so a report costs training the same on any length of log.
    """

    def __init__(self):
        self.header = None
        self._lines = []
        self._costs = []
        self._partial = ''
        self._lock = threading.Lock()  # the sender and .message both render
        self._written = []
        self.write = self._written.append

    def collect(self):
        """Lines and their costs (UTF-16 units escaped, newline included)."""
        with self._lock:
            count = len(self._written)  # appends may go on meanwhile
            text = self._partial + ''.join(self._written[:count])
            del self._written[:count]
            *complete, self._partial = text.split('\n')
            for line in complete:
                line = line.replace('\033[J', '').rstrip()
                if self.header is None:
                    self.header = line
                else:
                    self._lines.append(line)
                    self._costs.append(_units(_escape(line)) + 1)
            return self._costs[:]

    def bound_backlog(self):
        """Collect now if nothing has rendered for long (no Slack, or it
        gave up), so that memory stays one string per line."""
        if len(self._written) > 4096:
            self.collect()

    def render(self, normalizer, budget, costs):
        """The table as a code block of at most ``budget`` units, or ''."""
        if self.header is None:
            return ''
        budget -= len(_FENCE) * 2 + 1  # "```\n" ... "```"
        header = _shorten(self.header, budget - 1)
        budget -= _units(header) + 1
        if budget < 0 or not header:
            return ''  # never a fence cut open: no block at all
        rows = [header]
        if costs:
            kept = normalizer(costs, budget)
            rows.extend(_escape(self._lines[i]) for i in kept)
            if len(kept) == 1 and costs[kept[0]] > budget:
                rows[1] = _shorten(self._lines[kept[0]], budget - 1)
                if not rows[1]:
                    del rows[1]
        return '%s\n%s\n%s' % (_FENCE, '\n'.join(rows), _FENCE)


class _Trends(object):
    """A sparkline per numeric entry, from the LogReport's log.

    Each render reads a fixed number of sampled observations, and only the
    new ones for the latest and best values, so it costs the same on any
    length of log. Best is the highest for entries naming an accuracy, the
    lowest otherwise, and is placed by the counter the entries show.
    """

    _BARS = '\u2581\u2582\u2583\u2584\u2585\u2586\u2587\u2588'
    _NOT_TRENDS = ('epoch', 'iteration', 'elapsed_time')

    def __init__(self, entries, width=16):
        self._entries = [e for e in entries if e not in self._NOT_TRENDS]
        self._higher_is_better = {e for e in self._entries if 'acc' in e}
        self._counter = 'iteration' if 'iteration' in entries and (
            'epoch' not in entries) else 'epoch'
        self._width = width
        self._latest, self._best = {}, {}  # entry -> (value, observation)
        self._seen = 0
        self._lock = threading.Lock()

    @staticmethod
    def _number(observation, entry):
        try:
            value = float(observation[entry])
        except (KeyError, TypeError, ValueError):
            return None
        return value if math.isfinite(value) else None

    def render(self, log):
        with self._lock:
            for observation in log[self._seen:]:
                self._seen += 1
                for entry in self._entries:
                    value = self._number(observation, entry)
                    if value is None:
                        continue
                    self._latest[entry] = value, observation
                    best = self._best.get(entry)
                    if best is None or (value > best[0] if entry in
                                        self._higher_is_better
                                        else value < best[0]):
                        self._best[entry] = value, observation
            count = self._seen
        step = max(1.0, (count - 1) / (self._width - 1)) if count > 1 else 1
        sampled = [log[int(round(i * step))] for i in range(self._width)
                   if int(round(i * step)) < count]
        name_width = max([len(e) for e in self._latest] or [0])
        lines = []
        for entry in self._entries:
            if entry not in self._latest:
                continue
            values = [v for v in (self._number(o, entry) for o in sampled)
                      if v is not None] or [self._latest[entry][0]]
            low, high = min(values), max(values)
            spark = ''.join(self._BARS[int((v - low) / (high - low) * 7)
                                       if high > low else 0] for v in values)
            best, at = self._best[entry]
            lines.append('%-*s  %-*s  %-10.4g  best %.4g @ %s %s' % (
                name_width, entry, self._width, spark, self._latest[entry][0],
                best, self._counter, at.get(self._counter, '?')))
        return '\n'.join(lines)


class _Message(object):
    """Formats the Slack text: template, escaped values and fitted table."""

    def __init__(self, template, fields, normalizer, max_length,
                 fixed_values):
        self._template = template
        self._normalizer = normalizer
        self._max_length = max_length
        self._fixed = fixed_values
        self.table = _Table()
        self.fields = fields  # as _compile_template found them
        self._content_uses = fields.count('content')
        self._shrinkable = set(fields) - {'content', 'finish_mentions'}

    def render(self, values, mentions):
        """Return the text for ``values`` (raw) and ``mentions`` (markup)."""
        raw = dict(self._fixed, **values)
        escaped = {key: _escape(raw[key]) for key in self._shrinkable}
        escaped['content'] = _CONTENT_MARK
        escaped['finish_mentions'] = mentions
        # Room for the fence, the table's header and its newest line comes
        # first; past that, the longest substituted values give way.
        costs = self.table.collect()  # first: it may set the header
        header = self.table.header or ''
        reserve = self._content_uses * (
            len(_FENCE) * 2 + 2 + _units(_escape(header)) +
            (costs[-1] if costs else 0))
        while True:
            parts = self._template.format_map(escaped).split(_CONTENT_MARK)
            spare = self._max_length - reserve - sum(map(_units, parts))
            if spare >= 0:
                break
            key = max(self._shrinkable, key=lambda k: _units(escaped[k]),
                      default=None)
            length = _units(escaped[key]) if key else 0
            if length <= 1:
                if header:  # values are gone; let the header give way
                    reserve, header = 0, ''
                    continue
                raise ValueError(
                    'the template alone is longer than max_length=%d '
                    'characters; shorten it' % self._max_length)
            escaped[key] = _shorten(raw[key], max(1, length + spare))
        if len(parts) > 1:
            room = (self._max_length - sum(map(_units, parts)))
            content = self.table.render(self._normalizer,
                                        room // (len(parts) - 1), costs)
            return content.join(parts)
        return parts[0]


###############################################################################
# Slack client ################################################################
###############################################################################

_TRANSIENT = frozenset(['ratelimited', 'internal_error', 'service_unavailable',
                        'fatal_error', 'request_timeout'])
_GONE = frozenset(['message_not_found', 'cant_update_message',
                   'edit_window_closed'])
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
    'missing_scope': 'add the chat:write scope to ' + _APP_PAGE +
                     ' and reinstall it',
    'channel_not_found': 'check the channel ID (in Slack: channel details, '
                         'bottom) and, for a private channel, invite the bot',
    'not_in_channel': 'invite the bot: type /invite @your-app in the channel',
    'is_archived': 'the channel is archived: unarchive it or use another',
    'restricted_action': 'the workspace forbids this app to post there: ask '
                         'an admin',
}


def _fix_for(error):
    """What the user should do about ``error``, in one sentence."""
    if error in _FIXES:
        return _FIXES[error]
    if 'CERTIFICATE_VERIFY_FAILED' in error or 'SSL' in error:
        return ('TLS verification failed: if a proxy re-signs traffic, point '
                'SSL_CERT_FILE at its CA bundle')
    if error.startswith('cannot reach'):
        return ('Slack is unreachable from here: set https_proxy (and '
                'no_proxy), or api_url to a relay that can reach it')
    if error.startswith('HTTP'):
        return 'check api_url and any proxy on the way'
    return 'see https://api.slack.com/methods'


class _SlackError(Exception):
    """A call failed; ``transient`` failures are worth retrying."""

    def __init__(self, error, transient, retry_after=None):
        super(_SlackError, self).__init__(error)
        self.error = error
        self.transient = transient
        self.retry_after = retry_after


def _env(value, *names):
    for name in names:
        value = value or os.environ.get(name)
    return value


def _settings(token, channel, api_url):
    """Token, channel and API base URL, from the arguments or else the
    environment, checked before any of them is used.

    Raises ValueError for a malformed token (without showing it: urllib's
    own error would) and for a URL that would send the token across a
    network unencrypted.
    """
    token = _env(token, 'SLACK_ACCESS_TOKEN', 'SLACK_BOT_TOKEN')
    if token and not (isinstance(token, str) and
                      re.fullmatch(r'[\x21-\x7e]+', token)):
        raise ValueError('access_token must be printable ASCII without '
                         'spaces, like xoxb-...; check for a stray newline '
                         'or quote')
    api_url = _env(api_url, 'SLACK_API_URL') or 'https://slack.com/api/'
    parts = urllib.parse.urlsplit(api_url)
    host = parts.hostname or ''
    try:
        loopback = (host == 'localhost' or
                    ipaddress.ip_address(host).is_loopback)
    except ValueError:
        loopback = False
    if not host or parts.scheme not in ('https', 'http') or (
            parts.scheme == 'http' and not loopback):
        raise ValueError('api_url %r must be https://... (plain http:// is '
                         'only accepted for loopback addresses)' % api_url)
    return (token, _env(channel, 'SLACK_CHANNEL_ID'),
            api_url.rstrip('/') + '/')


class _SlackClient(object):
    """A minimal Slack Web API client on urllib.

    The token travels only in the Authorization header. urllib takes proxies
    from http_proxy/https_proxy/no_proxy and verifies TLS certificates.
    """

    def __init__(self, token, api_url, timeout):
        self._token = token
        self._api_url = api_url
        self._timeout = timeout

    def call(self, method, **params):
        """POST ``method`` with form ``params``; return the decoded answer."""
        data = urllib.parse.urlencode(params).encode('utf-8')
        request = urllib.request.Request(self._api_url + method, data=data)
        request.add_header('Authorization', 'Bearer ' + self._token)
        request.add_header('Content-Type',
                           'application/x-www-form-urlencoded')
        request.add_header('User-Agent', 'slack_report/' + __version__)
        try:
            with urllib.request.urlopen(request, timeout=self._timeout) as r:
                body = r.read()
        except urllib.error.HTTPError as error:
            if error.code == 429:
                retry_after = error.headers.get('Retry-After', '')
                raise _SlackError('ratelimited', True, float(
                    retry_after) if retry_after.isdigit() else None)
            raise _SlackError('HTTP %d from %s' % (error.code, method),
                              error.code >= 500)
        except (OSError, http.client.HTTPException) as error:
            reason = getattr(error, 'reason', None) or error
            raise _SlackError('cannot reach Slack: %s' % (reason,), True)
        try:
            answer = json.loads(body.decode('utf-8'))
            ok = answer['ok']
        except (ValueError, KeyError, TypeError):
            raise _SlackError('the answer to %s was not Slack JSON (a proxy '
                              'error page?)' % method, True)
        if not ok:
            error = str(answer.get('error', 'unknown_error'))
            raise _SlackError(error, error in _TRANSIENT)
        return answer


###############################################################################
# Background sender ###########################################################
###############################################################################

_MENTION_FORMS = ("'@U0123ABCD', 'U0123ABCD', '<@U0123ABCD>', "
                  "'<!subteam^S0123ABCD>', 'S0123ABCD', '@here', '@channel', "
                  "'@everyone' (or with !), or a user name such as '@alice'")
_SPECIAL = ('here', 'channel', 'everyone')


def _parse_mentions(finish_mentions):
    """Split ``finish_mentions`` into Slack markup and names to look up."""
    if isinstance(finish_mentions, str):
        finish_mentions = re.split(r'[\s,]+', finish_mentions.strip())
    markup, names = [], []
    for entry in finish_mentions:
        if not isinstance(entry, str):
            raise ValueError('finish_mentions entry %r is not a str; accepted '
                             'forms: %s' % (entry, _MENTION_FORMS))
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
        else:
            raise ValueError('finish_mentions entry %r is not a mention; '
                             'accepted forms: %s' % (entry, _MENTION_FORMS))
    return markup, names


class _Sender(object):
    """Keeps one Slack message equal to the newest state, from a thread.

    It only talks to Slack: ``update`` records a callable that renders the
    newest text and returns at once; the thread sends at most one call per
    ``min_interval`` seconds, skips text already sent, re-posts a message
    that vanished, backs off on transient failures and stops for good, with
    one warning, on a fatal one.
    """

    def __init__(self, client, channel, min_interval, ts=None):
        self._client = client
        self.channel = channel  # the ID once posted
        self._min_interval = min_interval
        self._interval = min_interval  # grows after 429 answers
        self.ts = ts  # a message to update (a resumed run's) or None
        # The newest state, each replaced whole: one store is atomic.
        self._render = None
        self._final = None  # (render_final, render_reply, markup, names)
        self._wake = threading.Event()
        self._finishing = threading.Event()
        self._done = threading.Event()
        self._abandoned = False  # finish gave up: make no further call
        self._warned = set()
        self._thread = threading.Thread(target=self._run, name='slack_report')
        self._thread.daemon = True  # a hung Slack never holds the exit
        self._thread.start()

    def update(self, render):
        self._render = render
        if not self._wake.is_set():  # cheaper than setting it again
            self._wake.set()

    def finish(self, render_final, render_reply, markup, names, timeout):
        """Send the final state and the mention; wait at most ``timeout``."""
        self._final = (render_final, render_reply, markup, names)
        self._finishing.set()
        self._wake.set()
        if not self._done.wait(timeout):
            self._abandoned = True
            self._warn_once('finish', 'Slack did not take the final report '
                            'within flush_timeout=%gs; the message may not '
                            'show the final status' % timeout)

    def _warn_once(self, key, message):
        if key not in self._warned:
            self._warned.add(key)
            _warn(message)

    def _run(self):
        try:
            self._loop()
        except _SlackError as error:
            self._warn_once('fatal', 'Slack refused the report (%s): %s. '
                            'slack_report stops sending for this run.'
                            % (error.error, _fix_for(error.error)))
        except Exception as error:  # a bug here must not go unnoticed
            self._warn_once('bug', 'slack_report stopped after an unexpected '
                            '%s: %s' % (type(error).__name__, error))
        finally:
            self._done.set()

    def _loop(self):
        sent, failures, markup = None, 0, None
        while not self._abandoned:
            self._wake.wait()
            self._wake.clear()
            render, final = self._render, self._final
            try:
                if final is not None:
                    render_final, render_reply, known, names = final
                    if markup is None:
                        markup = known + (self._look_up(names) if names
                                          else [])
                    text = render_final(' '.join(markup))
                else:
                    text = render()
                if text != sent:
                    self._send(text)
                    sent = text
                if final is not None:
                    if markup:
                        self._mention(render_reply(' '.join(markup)), markup)
                    return
                failures = 0
                self._interval = max(self._min_interval, self._interval * 0.9)
                self._pause(self._interval, interruptible=True)
            except _SlackError as error:
                if error.error in _GONE:
                    self.ts = sent = None  # deleted or frozen: post anew
                elif not error.transient:
                    raise
                else:
                    failures += 1
                    self._warn_once(error.error, 'Slack call failed (%s); '
                                    'retrying in the background'
                                    % error.error)
                    self._back_off(error, failures)
                self._wake.set()

    def _back_off(self, error, failures):
        backoff = min(2.0 if self._finishing.is_set() else 30.0,
                      0.5 * 2 ** failures)
        if error.error == 'ratelimited':
            # All runs sharing this bot share one budget and hear the same
            # wait: slow down steeply and recover gently (a 2-minute cap
            # leaves room for dozens of runs), and spread the retries.
            self._interval = min(4 * self._interval,
                                 max(self._min_interval, 120.0))
            self._pause(error.retry_after or backoff, interruptible=False)
            self._pause(random.uniform(0, self._interval), interruptible=True)
        else:
            self._pause(backoff, interruptible=True)

    def _pause(self, seconds, interruptible):
        if interruptible and not self._finishing.is_set():
            self._finishing.wait(seconds)
        else:
            time.sleep(seconds)

    def _send(self, text):
        if self.ts is None:
            answer = self._client.call('chat.postMessage',
                                       channel=self.channel, text=text)
            self.channel, self.ts = answer['channel'], answer['ts']
        else:
            self._client.call('chat.update', channel=self.channel,
                              ts=self.ts, text=text)

    def _mention(self, text, markup):
        # Edits never notify: the mention goes out as a new thread reply,
        # broadcast when it addresses the channel (threads alone ignore it).
        broadcast = any(m in ('<!here>', '<!channel>', '<!everyone>')
                        for m in markup)
        params = {'channel': self.channel, 'thread_ts': self.ts,
                  'text': text}
        if broadcast:
            params['reply_broadcast'] = 'true'
        self._client.call('chat.postMessage', **params)

    def _look_up(self, names):
        """Return markup for the user ``names`` that users.list knows."""
        wanted = {name.lower(): name for name in names}
        found, cursor = {}, ''
        try:
            while True:
                answer = self._client.call('users.list', limit=200,
                                           cursor=cursor)
                for user in answer.get('members', []):
                    profile = user.get('profile', {})
                    for known in (user.get('name'),
                                  profile.get('display_name')):
                        if known and known.lower() in wanted:
                            found.setdefault(known.lower(), user['id'])
                cursor = answer.get('response_metadata', {}).get(
                    'next_cursor')
                if not cursor or len(found) == len(wanted):
                    break
        except _SlackError as error:
            self._warn_once('users', 'cannot look up %s with users.list (%s);'
                            ' give user IDs (U0123ABCD) instead, or add the '
                            'users:read scope' % (', '.join(names),
                                                  error.error))
            return []
        missing = [wanted[k] for k in wanted if k not in found]
        if missing:
            self._warn_once('names', 'no Slack user is named %s; they are '
                            'not mentioned' % ', '.join(missing))
        return ['<@%s>' % found[k] for k in wanted if k in found]


###############################################################################
# The extension ###############################################################
###############################################################################

class SlackReport(_extensions.PrintReport):

    """Trainer extension keeping one Slack message up to date.

    The message shows the PrintReport table of ``entries``, a status line,
    progress and trends and, once training ends, mentions
    ``finish_mentions`` in a thread reply. The Slack app needs the
    ``chat:write`` scope (and ``users:read`` to mention users by name) and
    must be invited to the channel.

    Args:
        access_token (str): Bot token ``xoxb-...``. None or empty falls back
            to ``$SLACK_ACCESS_TOKEN``, then ``$SLACK_BOT_TOKEN``.
        channel_id (str): Channel ID (or name). None or empty falls back to
            ``$SLACK_CHANNEL_ID``.
        entries (list of str): Keys of observations to show, as PrintReport.
        template (str): ``str.format`` template of the message; the README
            lists the placeholders.
        finish_mentions (str or list of str): Who to notify at the end.
        len_normalizer (str): How the table is shortened to fit
            ``max_length``: ``'thin_out'``, ``'FIFO'`` or ``'LIFO'``.
        log_report (str or LogReport): As for PrintReport.
        api_url (str): Base URL of the Web API. None falls back to
            ``$SLACK_API_URL``, then ``https://slack.com/api/``.
        max_length (int): Longest text sent, in UTF-16 units (at most 4000,
            chat.update's limit).
        min_interval (float): Fewest seconds between two Slack calls.
        timeout (float): Seconds before one HTTP request is abandoned.
        flush_timeout (float): Seconds the end of training may wait for the
            final report and mention.
        fields (dict): Extra placeholders, such as ``{'tag': 'lr=0.1'}`` for
            ``{tag}``.
        comm: A ChainerMN communicator (anything with ``rank`` and
            ``size``): only rank 0 reports, the others do nothing.

    """

    def __init__(self, access_token=None, channel_id=None, entries=None,
                 template=DEFAULT_TEMPLATE, finish_mentions=(),
                 len_normalizer='thin_out', log_report='LogReport', *,
                 api_url=None, max_length=4000, min_interval=5.0,
                 timeout=10.0, flush_timeout=30.0, fields=None, comm=None):
        if isinstance(entries, str) or not (
                isinstance(entries, (list, tuple)) and
                all(isinstance(e, str) for e in entries)):
            raise TypeError('entries must be a list of str such as '
                            "['epoch', 'main/loss'], not %r" % (entries,))
        if not isinstance(log_report, (str, _extensions.LogReport)):
            raise TypeError('log_report must be the name of a LogReport '
                            'extension or a LogReport, not %r' % (log_report,))
        normalizer = _NORMALIZERS.get(str(len_normalizer).lower())
        if normalizer is None:
            raise ValueError('len_normalizer %r is unknown; accepted: %s'
                             % (len_normalizer, _NORMALIZER_NAMES))
        if not (isinstance(max_length, int) and 100 <= max_length <= 4000):
            raise ValueError('max_length %r must be an int from 100 to 4000 '
                             '(chat.update refuses longer text)'
                             % (max_length,))
        for name, value in (('min_interval', min_interval),
                            ('timeout', timeout),
                            ('flush_timeout', flush_timeout)):
            if not isinstance(value, (int, float)) or not value >= 0 or (
                    name == 'timeout' and not value):
                raise ValueError('%s must be a number of seconds >= 0 (> 0 '
                                 'for timeout), not %r' % (name, value))
        fields = dict(fields or {})
        for key in fields:
            if not (isinstance(key, str) and key.isidentifier()) or (
                    key in _PLACEHOLDERS):
                raise ValueError('fields key %r must be a name that is not '
                                 'one of the placeholders %s'
                                 % (key, ', '.join(_PLACEHOLDERS)))
        if comm is not None and not (hasattr(comm, 'rank') and
                                     hasattr(comm, 'size')):
            raise TypeError('comm must be a ChainerMN communicator (with rank '
                            'and size), not %r' % (comm,))
        token, self._channel, api_url = _settings(access_token, channel_id,
                                                  api_url)
        self._markup, self._names = _parse_mentions(finish_mentions)

        super(SlackReport, self).__init__(list(entries), log_report)
        self._silent = comm is not None and comm.rank != 0
        argv = sys.argv or ['']
        pwd = os.getcwd()
        home = os.path.expanduser('~')
        fixed = {
            'hostname': socket.gethostname(),
            'pwd': pwd,
            'pwdshort': '~' + pwd[len(home):]
            if pwd.startswith(home) and home != '/' else pwd,
            'cmd': argv[0],
            'args': ' '.join(shlex.quote(a) for a in argv[1:]),
            'pid': str(os.getpid()),
            'processes': '%d processes' % comm.size
            if comm is not None and comm.size > 1 else '',
            'git': '',
        }
        fixed.update((key, str(value)) for key, value in fields.items())
        template, used = _compile_template(template,
                                           _PLACEHOLDERS + tuple(fields))
        if 'git' in used and not self._silent:
            fixed['git'] = _git_commit()
        self._message = _Message(template, used, normalizer, max_length,
                                 fixed)
        self._out = self._message.table
        self._trends = _Trends(entries)
        self._log_report_spec = log_report
        self._log_source = None
        self._client = _SlackClient(token, api_url,
                                    timeout) if token else None
        self._min_interval = min_interval
        self._flush_timeout = flush_timeout
        self._sender = None
        self._trainer = None
        # From a snapshot: [channel, ts] of its message, [] if it had none.
        self._resumed = None
        self._status = '[Started]'
        self._elapsed = 0.0
        self._progress = None  # (length, unit, done at start, start time)
        self._finished = False
        self._exc_before = None
        # The longest mentions could become: fail now, not at the end.
        self._render('', 0.0, ' '.join(
            self._markup + ['<@U0123456789>'] * len(self._names)))
        if not self.available and not self._silent:
            _warn('SlackReport has no %s: set SLACK_ACCESS_TOKEN and '
                  'SLACK_CHANNEL_ID; training goes on without Slack reports'
                  % ('token' if not token else 'channel'))

    @property
    def available(self):
        """Whether this report talks to Slack (it has a token and channel)."""
        return bool(self._client and self._channel and not self._silent)

    @property
    def message(self):
        """The text as it would be sent now."""
        mentions = ''
        if self._finished:
            mentions = ' '.join(self._markup +
                                [_escape('@' + n) for n in self._names])
        return self._render_now(mentions)

    def initialize(self, trainer):
        if self._silent:
            return
        self._trainer = trainer
        self._exc_before = sys.exc_info()[1]
        spec = self._log_report_spec
        self._log_source = trainer.get_extension(spec) if isinstance(
            spec, str) else spec
        length = getattr(trainer.stop_trigger, 'get_training_length', None)
        if length is not None:
            length, unit = length()
            self._progress = (length, unit, self._done(trainer, unit),
                              time.time())
        channel, ts = self._resumed or (self._channel, None)
        if self.available:
            self._sender = _Sender(self._client, channel, self._min_interval,
                                   ts)
        self._report('[Resumed]' if self._resumed is not None
                     else '[Started]')

    def __call__(self, trainer):
        if self._silent:
            return
        super(SlackReport, self).__call__(trainer)
        self._message.table.bound_backlog()
        self._report('[Training]')

    def on_error(self, trainer, exc, tb):
        self._status = '[Failed] %s: %s' % (type(exc).__name__, exc)

    def finalize(self):
        if self._finished or self._silent:
            return
        self._finished = True
        if not self._status.startswith('[Failed]'):
            # Trainer calls on_error only for an Exception: anything else,
            # such as KeyboardInterrupt, is seen here propagating.
            exc = sys.exc_info()[1]
            if exc is not None and exc is not self._exc_before:
                self._status = '[Interrupted] %s' % type(exc).__name__
            else:
                self._status = '[Completed]'
        self._snapshot()
        if self._sender is not None:
            self._sender.finish(self._render_now,
                                lambda markup: '%s %s' % (markup, _escape(
                                    self._status)),
                                self._markup, self._names,
                                self._flush_timeout)

    def serialize(self, serializer):
        super(SlackReport, self).serialize(serializer)
        # The message travels in snapshots, so a resumed run keeps it.
        if isinstance(serializer, chainer.serializer.Serializer):
            sender = self._sender
            serializer('_slack_message', json.dumps(
                [sender.channel, sender.ts] if sender and sender.ts else []))
        else:
            try:
                self._resumed = json.loads(serializer('_slack_message', ''))
            except KeyError:  # a snapshot taken without SlackReport
                self._resumed = []

    @staticmethod
    def _done(trainer, unit):
        updater = trainer.updater
        return updater.iteration if unit == 'iteration' else \
            updater.epoch_detail

    def _snapshot(self):
        if self._trainer is not None:
            self._elapsed = self._trainer.elapsed_time

    def _report(self, status):
        self._status = status
        self._snapshot()
        if self._sender is not None:
            status, elapsed = self._status, self._elapsed
            self._sender.update(lambda: self._render(status, elapsed, ''))

    def _render_now(self, mentions):
        return self._render(self._status, self._elapsed, mentions)

    def _render(self, status, elapsed, mentions):
        if self._resumed is not None and status != '[Resumed]':
            status = status.replace(']', ', resumed]', 1)  # for the whole run
        values = {'status': status, 'elapsed': _format_elapsed(elapsed),
                  'progress': '', 'trends': ''}
        if self._progress is not None:  # read here, not on every report
            length, unit, start_done, start_time = self._progress
            done = self._done(self._trainer, unit)
            spent = time.time() - start_time
            values['progress'] = _progress_bar(
                done, length, (done - start_done) / spent if spent else 0)
        if self._log_source is not None and 'trends' in self._message.fields:
            values['trends'] = self._trends.render(self._log_source.log)
        return self._message.render(values, mentions)


###############################################################################
# Command line ################################################################
###############################################################################

def _demo():
    """Train a tiny classifier for a few seconds, reporting as it goes."""
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
    report = SlackReport(None, None, [
        'epoch', 'main/loss', 'validation/main/loss', 'main/accuracy',
        'validation/main/accuracy', 'elapsed_time'], min_interval=1.0)
    if report.available:
        print('Posting to Slack channel %s ...' % report._channel)
    else:
        print('No SLACK_ACCESS_TOKEN/SLACK_CHANNEL_ID: showing the message '
              'it would post.\n')
    with tempfile.TemporaryDirectory(prefix='slack_report_demo_') as out:
        trainer = training.Trainer(updater, (15, 'epoch'), out=out)
        trainer.extend(_extensions.Evaluator(
            chainer.iterators.SerialIterator(valid, 100, repeat=False,
                                             shuffle=False), model))
        trainer.extend(_extensions.LogReport(trigger=(1, 'epoch')))
        trainer.extend(report, trigger=(1, 'epoch'))
        # Slowed down on purpose, so that the updates can be watched.
        trainer.extend(lambda _: time.sleep(0.3), trigger=(1, 'epoch'))
        if not report.available and sys.stdout.isatty():
            trainer.extend(lambda _: print('\033[H\033[J' + report.message),
                           trigger=(1, 'epoch'))
        trainer.run()
    if not report.available:
        print(report.message)
    print('\nDone: %s' % report.message.splitlines()[0])
    return 0


def _check(token, channel, api_url):
    """Try what a report does; print each step and, on failure, the fix.

    Returns the exit status: 0 only when a report would work.
    """
    try:
        token, channel, api_url = _settings(token, channel, api_url)
    except ValueError as error:
        print('FAIL  %s' % error)
        return 1
    if not token or not channel:
        print('FAIL  no %s: set SLACK_ACCESS_TOKEN and SLACK_CHANNEL_ID (or '
              'pass --token and --channel)' % ('token' if not token else
                                               'channel'))
        return 1
    client = _SlackClient(token, api_url, 10.0)

    def step(what, method, **params):
        try:
            answer = client.call(method, **params)
        except _SlackError as error:
            print('FAIL  %s: %s\n      fix: %s'
                  % (what, error.error, _fix_for(error.error)))
            return None
        print('ok    %s' % what)
        return answer

    who = step('the token is valid (auth.test)', 'auth.test')
    if who is None:
        return 1
    print('      bot %s in workspace %s' % (who.get('user'), who.get('team')))
    posted = step('the bot can post in %s' % channel, 'chat.postMessage',
                  channel=channel, text='slack_report --check: a test '
                  'message, deleted at once')
    if posted is None:
        return 1
    where = dict(channel=posted['channel'], ts=posted['ts'])
    updated = step('the bot can update its message', 'chat.update',
                   text='slack_report --check: updated', **where)
    step('the test message is deleted', 'chat.delete', **where)
    if updated is None:
        return 1
    print('A SlackReport with this token and channel will work.')
    return 0


def _main(argv=None):
    parser = argparse.ArgumentParser(
        prog='slack_report.py', description=__doc__.split('\n')[0])
    parser.add_argument('--demo', action='store_true',
                        help='train a tiny model for a few seconds and post '
                        'its report (or show it, without credentials)')
    parser.add_argument('--check', action='store_true',
                        help='check the token and channel: post, update and '
                        'delete a test message, and say how to fix a failure')
    parser.add_argument('--token', help='for --check: the bot token (default '
                        '$SLACK_ACCESS_TOKEN; prefer the variable, as '
                        'arguments show in ps)')
    parser.add_argument('--channel', help='for --check: the channel (default '
                        '$SLACK_CHANNEL_ID)')
    parser.add_argument('--api-url', help='for --check: the Web API base '
                        '(default $SLACK_API_URL or https://slack.com/api/)')
    parser.add_argument('--version', action='version', version=__version__)
    args = parser.parse_args(argv)
    if args.check:
        return _check(args.token, args.channel, args.api_url)
    if args.demo:
        return _demo()
    parser.print_help()
    return 2


if __name__ == '__main__':
    sys.exit(_main())
