// Command ttl-semlock-raft is TtlSemLock's replication sidecar: etcd's Raft (raft, wal, snap,
// rafthttp) run as a child process of the server, driven over a socketpair on fd 3.
// README.md in this folder describes the frame protocol.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"syscall"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// Exit statuses.
const (
	exitUsage    = 1 // bad command line or startup failure
	exitFdClosed = 2 // fd 3 reached EOF: the server is gone
	exitProtocol = 3 // the server sent a frame the codec rejects
	exitFatal    = 4 // storage failure at run time
)

type options struct {
	id              uint64
	dir             string
	raftListen      string
	electionMs      int
	heartbeatMs     int
	membersJSON     string
	snapshotEntries uint64
	catchupEntries  uint64
	requestTimeout  time.Duration
	join            bool
}

func fatalf(code int, format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, "ttl-semlock-raft: "+format+"\n", args...)
	os.Exit(code)
}

func parseOptions(args []string) (options, error) {
	var o options
	fs := flag.NewFlagSet("ttl-semlock-raft", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Uint64Var(&o.id, "id", 0, "this member's id (1..2^63)")
	fs.StringVar(&o.dir, "dir", "", "Raft dir (wal/ and snap/ inside)")
	fs.StringVar(&o.raftListen, "raft-listen", "", "host:port to accept peer traffic on")
	fs.IntVar(&o.electionMs, "election-ms", 0, "election timeout in ms")
	fs.IntVar(&o.heartbeatMs, "heartbeat-ms", 0, "heartbeat interval in ms (one raft tick)")
	fs.StringVar(&o.membersJSON, "members", "", "bootstrap membership JSON")
	fs.Uint64Var(&o.snapshotEntries, "snapshot-entries", 10000, "informational")
	fs.Uint64Var(&o.catchupEntries, "catchup-entries", 5000,
		"entries kept before a snapshot when compacting (optional)")
	requestMs := fs.Int("request-timeout-ms", 5000, "READ_INDEX / CONF_CHANGE timeout (optional)")
	fs.BoolVar(&o.join, "join", false, "join an existing cluster instead of bootstrapping (optional)")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() != 0 {
		return o, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	switch {
	case o.id == 0 || o.id > 1<<63:
		return o, fmt.Errorf("--id must be in 1..2^63")
	case o.dir == "":
		return o, fmt.Errorf("--dir is required")
	case o.raftListen == "":
		return o, fmt.Errorf("--raft-listen is required")
	case o.heartbeatMs <= 0:
		return o, fmt.Errorf("--heartbeat-ms must be > 0")
	case o.electionMs < 2*o.heartbeatMs:
		return o, fmt.Errorf("--election-ms must be at least twice --heartbeat-ms")
	case o.membersJSON == "":
		return o, fmt.Errorf("--members is required")
	case *requestMs <= 0:
		return o, fmt.Errorf("--request-timeout-ms must be > 0")
	}
	o.requestTimeout = time.Duration(*requestMs) * time.Millisecond
	return o, nil
}

func newLogger() *zap.Logger {
	cfg := zap.NewProductionConfig()
	cfg.Level = zap.NewAtomicLevelAt(zapcore.WarnLevel)
	cfg.Sampling = nil
	cfg.Encoding = "console"
	cfg.EncoderConfig.EncodeTime = zapcore.ISO8601TimeEncoder
	cfg.OutputPaths = []string{"stderr"}
	cfg.ErrorOutputPaths = []string{"stderr"}
	lg, err := cfg.Build()
	if err != nil {
		fatalf(exitUsage, "cannot build logger: %v", err)
	}
	return lg
}

func main() {
	o, err := parseOptions(os.Args[1:])
	if err != nil {
		fatalf(exitUsage, "%v (usage: --id N --dir PATH --raft-listen HOST:PORT --election-ms N "+
			"--heartbeat-ms N --members JSON [--snapshot-entries N] [--catchup-entries N] "+
			"[--request-timeout-ms N] [--join])", err)
	}
	boot, err := parseMembers(o.membersJSON)
	if err != nil {
		fatalf(exitUsage, "%v", err)
	}
	ctl := os.NewFile(3, "fd3")
	if ctl == nil {
		fatalf(exitUsage, "fd 3 is not open (the server passes one end of a socketpair there)")
	}
	// A Unix stream socket, checked by type: without one from the server, fd 3 may be a
	// descriptor some package's init opened (a journald datagram socket, the poller).
	soType, errT := syscall.GetsockoptInt(3, syscall.SOL_SOCKET, syscall.SO_TYPE)
	dom, errD := syscall.GetsockoptInt(3, syscall.SOL_SOCKET, syscall.SO_DOMAIN)
	if errT != nil || errD != nil || soType != syscall.SOCK_STREAM || dom != syscall.AF_UNIX {
		fatalf(exitUsage, "fd 3 must be one end of a Unix stream socketpair from the server")
	}

	lg := newLogger()
	if err := lockDir(lg, o.dir, 30*time.Second); err != nil {
		fatalf(exitUsage, "cannot lock --dir %s: %v", o.dir, err)
	}
	st, err := openStore(lg, o.dir)
	if err != nil {
		fatalf(exitUsage, "%v", err)
	}
	ln, err := net.Listen("tcp", o.raftListen)
	if err != nil {
		fatalf(exitUsage, "cannot listen on --raft-listen %s: %v", o.raftListen, err)
	}

	out := make(chan []byte, 4096)
	gone := make(chan struct{}, 1) // fd 3 is gone (EOF or a failed write): sync the WAL and exit
	go writeFrames(ctl, out, gone)

	gate := &raftGate{}
	mux := http.NewServeMux()
	mux.Handle(logProbePath, probeHandler(o.id, st.ms))
	mux.Handle("/", gate)
	go func() {
		err := (&http.Server{Handler: mux}).Serve(ln)
		fatalf(exitFatal, "raft listener %s failed: %v", o.raftListen, err)
	}()

	s := newSidecar(o, lg, st, boot, out, gone)
	gate.h.Store(s.tr.Handler())
	go readFrames(ctl, s)
	s.run()
}

// readFrames decodes the server's frames. EOF ends the process at once (status 2): the server
// is gone and a sidecar alone must not keep a member alive. A codec error ends it with status 3.
func readFrames(f *os.File, s *sidecar) {
	r := bufio.NewReaderSize(f, 256<<10)
	for {
		fr, err := readFrame(r)
		if err == errFdClosed {
			serverGone(s.exitReq)
		}
		if _, ok := err.(*protocolError); ok {
			fatalf(exitProtocol, "protocol error on fd 3: %v", err)
		}
		if err != nil {
			fatalf(exitFdClosed, "reading fd 3: %v", err)
		}
		if err := s.handleFrame(fr); err != nil {
			fatalf(exitProtocol, "protocol error on fd 3: %v", err)
		}
	}
}

// serverGone ends the process once fd 3 is gone, whichever side noticed first (the reader's
// EOF or the writer's EPIPE; both race when the server dies). The commit index of a commit-only
// Ready sits in the WAL's buffer (etcd syncs only entries and term/vote): the Raft loop syncs
// it and exits, so a restart replays all it delivered. Should the loop be stuck, exit anyway.
func serverGone(exitReq chan<- struct{}) {
	select {
	case exitReq <- struct{}{}:
	default: // the other side already asked
	}
	time.Sleep(500 * time.Millisecond)
	fatalf(exitFdClosed, "fd 3 closed (server gone); exiting")
}

// writeFrames is the only writer of fd 3. It coalesces whatever frames are queued into one
// write (a burst of ENTRIES, STATUS and replies costs one syscall). A failed write means the
// server is gone: the same exit as the reader's EOF, never an exit that skips the WAL sync.
func writeFrames(f *os.File, out <-chan []byte, gone chan<- struct{}) {
	w := bufio.NewWriterSize(f, 256<<10)
	failed := func(err error) {
		fmt.Fprintf(os.Stderr, "ttl-semlock-raft: writing fd 3: %v\n", err)
		serverGone(gone)
	}
	for b := range out {
		if _, err := w.Write(b); err != nil {
			failed(err)
		}
		for more := true; more; {
			select {
			case b2 := <-out:
				if _, err := w.Write(b2); err != nil {
					failed(err)
				}
			default:
				more = false
			}
		}
		if err := w.Flush(); err != nil {
			failed(err)
		}
	}
}
