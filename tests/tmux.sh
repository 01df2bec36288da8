# tmux.sh: driving a program on a real terminal (mutt, neomutt, a
# passphrase prompt) in tmux, for suites that source it after lib.sh.
# A tmux server of the suite's own, killed at the end whatever happens;
# it stays up between sessions (exit-empty off), so that a new session
# never meets a server still shutting down after the previous one ended.
TMUX_SOCK="$T_DIR/tmux.sock"
printf 'set -s exit-empty off\n' >"$T_DIR/tmux.conf"
tm() { tmux -S "$TMUX_SOCK" -f "$T_DIR/tmux.conf" "$@"; }
trap 'tm kill-server >/dev/null 2>&1; t_finish' EXIT
unset TMUX || true
tm start-server
mkdir -p "$T_DIR/tmp"

# start NAME COMMAND: a 200x50 session running COMMAND
start() {
	stop "$1"
	# the server's environment is the one it started with: pass ours
	e="env TERM=screen LANG=C LC_ALL=C TZ=UTC HOME=$HOME PATH=$PATH CAP=${CAP:-} GALSMIME_HOME=$GALSMIME_HOME"
	e="$e GALSMIME_PASSPHRASE_FILE=${GALSMIME_PASSPHRASE_FILE:-} TMPDIR=$T_DIR/tmp"
	tm new-session -d -s "$1" -x 200 -y 50 "$e $2" ||
		{ sleep 0.5; tm new-session -d -s "$1" -x 200 -y 50 "$e $2"; }
}
# screen NAME: the visible pane (also into screen.NAME)
screen() { tm capture-pane -p -t "$1" 2>/dev/null | tee "screen.$1"; }
# wait_for NAME REGEX [SECONDS]: poll the pane until REGEX shows up
wait_for() {
	n=$(( ${3:-15} * 10 ))
	while [ "$n" -gt 0 ]; do
		screen "$1" | grep -Eq -- "$2" && return 0
		sleep 0.1
		n=$((n - 1))
	done
	return 1
}
keys() { s=$1; shift; tm send-keys -t "$s" "$@"; }
# settle NAME: wait (up to 3 s) until two captures 0.3 s apart agree
settle() {
	n=10 prev=
	while [ "$n" -gt 0 ]; do
		cur=$(tm capture-pane -p -t "$1" 2>/dev/null)
		[ -n "$prev" ] && [ "$cur" = "$prev" ] && return 0
		prev=$cur
		sleep 0.3
		n=$((n - 1))
	done
}
# stop NAME: end the session (the program may have ended it already)
stop() { tm kill-session -t "$1" >/dev/null 2>&1 || :; }
