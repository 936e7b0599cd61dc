package cmd

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"golang.org/x/term"
	"k8s.io/client-go/tools/remotecommand"
)

// terminal is the local terminal of `tycho exec -t`.
type terminal struct {
	// ok: -t was asked and the input is a terminal.
	ok bool
	// raw: the input is put in raw mode while the command runs (-it).
	raw bool
	in  *os.File
	// sizes gives the sizes of the output's terminal; nil when it is not
	// one.
	sizes *sizeQueue
}

// setupTerminal looks at the streams for -t (and -i): a terminal is used
// when the input is one, as kubectl does.
func setupTerminal(tty, stdin bool, streams Streams) terminal {
	if !tty {
		return terminal{}
	}
	in, ok := streams.In.(*os.File)
	if !ok || !term.IsTerminal(int(in.Fd())) {
		return terminal{}
	}
	t := terminal{ok: true, raw: stdin, in: in}
	if out, ok := streams.Out.(*os.File); ok && term.IsTerminal(int(out.Fd())) {
		t.sizes = &sizeQueue{fd: int(out.Fd()), ch: make(chan remotecommand.TerminalSize, 1)}
	}
	return t
}

// run runs f with the input in raw mode (with -it) and the terminal's
// size changes sent, and restores the terminal after.
func (t terminal) run(ctx context.Context, f func(context.Context) (int, error)) (int, error) {
	if t.raw {
		if old, err := term.MakeRaw(int(t.in.Fd())); err == nil {
			defer func() { _ = term.Restore(int(t.in.Fd()), old) }()
		}
	}
	if t.sizes != nil {
		ctx, cancel := context.WithCancel(ctx)
		defer cancel()
		t.sizes.watch(ctx)
	}
	return f(ctx)
}

// sizeQueue is a remotecommand.TerminalSizeQueue: the terminal's size at
// the start and after each SIGWINCH.
type sizeQueue struct {
	fd  int
	ch  chan remotecommand.TerminalSize
	ctx context.Context
}

func (q *sizeQueue) watch(ctx context.Context) {
	q.ctx = ctx
	q.send()
	winch := make(chan os.Signal, 1)
	signal.Notify(winch, syscall.SIGWINCH)
	go func() {
		defer signal.Stop(winch)
		for {
			select {
			case <-ctx.Done():
				return
			case <-winch:
				q.send()
			}
		}
	}()
}

// send queues the current size, replacing one not read yet.
func (q *sizeQueue) send() {
	w, h, err := term.GetSize(q.fd)
	if err != nil {
		return
	}
	s := remotecommand.TerminalSize{Width: uint16(w), Height: uint16(h)}
	select {
	case <-q.ch:
	default:
	}
	q.ch <- s
}

// Next is the next size; nil when the command ended.
func (q *sizeQueue) Next() *remotecommand.TerminalSize {
	select {
	case s := <-q.ch:
		return &s
	case <-q.ctx.Done():
		return nil
	}
}
