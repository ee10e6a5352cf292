package main

// The sidecar's Raft member: one goroutine (run) owns the raft.Node's Ready loop, the storage,
// the membership and every pending request; the fd-3 reader hands it commands over a channel,
// except PROPOSE, which the reader passes to raft directly (raft batches concurrent proposals
// into one Ready, so one WAL fsync covers them all).

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"io"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"go.etcd.io/etcd/etcdserver/api/rafthttp"
	"go.etcd.io/etcd/etcdserver/api/snap"
	stats "go.etcd.io/etcd/etcdserver/api/v2stats"
	"go.etcd.io/etcd/pkg/fileutil"
	"go.etcd.io/etcd/pkg/types"
	"go.etcd.io/etcd/raft"
	"go.etcd.io/etcd/raft/raftpb"
	"go.uber.org/zap"
)

// clusterID is the same for every TtlSemLock group; rafthttp rejects peers with another one.
const clusterID = 0x7453656d4c6f636b // "tSemLock"

// entriesFrameBytes bounds one ENTRIES frame (a Ready or a RESYNC is split into several).
const entriesFrameBytes = 1 << 20

// memAt is the membership as of a log index (kept so SNAPSHOT_TAKEN at an older index records
// the conf state of that index).
type memAt struct {
	index uint64
	cs    raftpb.ConfState
	mem   members
}

type pending struct {
	deadline time.Time
}

type status struct {
	leader, term, commit, applied uint64
	role                          raft.StateType
	mem                           string
}

type sidecar struct {
	o    options
	lg   *zap.Logger
	st   *store
	node raft.Node
	tr   *rafthttp.Transport
	out  chan<- []byte
	cmds chan frame

	exitReq chan struct{} // fd 3 closed: sync the WAL and exit

	isLeader atomic.Bool
	hasLead  atomic.Bool

	// Server liveness: the last frame from the server (unix ns), and whether it sends PINGs at
	// all (a server that never does is not watched). See serverWatchdog.
	serverSeen  atomic.Int64
	serverPings atomic.Bool
	serverHung  bool      // owned by run()
	lastWatch   time.Time // owned by run(): the watchdog's last run

	removedMu sync.Mutex
	removed   map[uint64]bool

	heardMu sync.Mutex
	heard   map[uint64]time.Time // last message from each peer (any type)

	// Owned by run().
	soft        raft.SoftState
	term        uint64
	commit      uint64
	mem         members
	hist        []memAt
	applied     uint64 // last committed index processed
	persisted   uint64 // last log index this member's WAL holds (written by a finished Save)
	delivered   uint64 // last index sent to the server (ENTRIES or SNAPSHOT_INSTALL)
	resynced    bool   // the server asked for RESYNC: committed state flows to it from now on
	snapIndex   uint64
	reads       map[uint64]pending
	confs       map[uint64]pending
	confFailC   chan confFail
	lastStatus  status
	statusSent  bool
	electionTO  time.Duration
	purgeStopC  chan struct{}
	dialedPeers map[uint64]string
}

type confFail struct {
	tag    uint64
	reason string
}

func newSidecar(o options, lg *zap.Logger, st *store, boot members, out chan<- []byte,
	exitReq chan struct{}) *sidecar {
	s := &sidecar{
		o: o, lg: lg, st: st, out: out,
		cmds:        make(chan frame, 1024),
		exitReq:     exitReq,
		removed:     map[uint64]bool{},
		heard:       map[uint64]time.Time{},
		mem:         members{},
		reads:       map[uint64]pending{},
		confs:       map[uint64]pending{},
		confFailC:   make(chan confFail, 64),
		electionTO:  time.Duration(o.electionMs) * time.Millisecond,
		purgeStopC:  make(chan struct{}),
		dialedPeers: map[uint64]string{},
	}
	hs, _, _ := st.ms.InitialState()
	s.term, s.commit = hs.Term, hs.Commit
	sn, _ := st.ms.Snapshot()
	s.snapIndex = sn.Metadata.Index
	s.applied = sn.Metadata.Index
	s.delivered = sn.Metadata.Index
	if !raft.IsEmptySnap(sn) {
		m, _, err := unwrapSnapshot(sn.Data)
		if err != nil {
			fatalf(exitUsage, "snapshot at index %d: %v", sn.Metadata.Index, err)
		}
		s.mem = m
	}
	s.hist = []memAt{{index: sn.Metadata.Index, cs: sn.Metadata.ConfState, mem: s.mem.clone()}}

	c := &raft.Config{
		ID:                        o.id,
		ElectionTick:              o.electionMs / o.heartbeatMs,
		HeartbeatTick:             1,
		Storage:                   st.ms,
		Applied:                   sn.Metadata.Index,
		MaxSizePerMsg:             1 << 20,
		MaxInflightMsgs:           256,
		MaxUncommittedEntriesSize: 1 << 30,
		PreVote:                   true,
		CheckQuorum:               true,
		DisableProposalForwarding: true,
		ReadOnlyOption:            raft.ReadOnlySafe,
	}
	s.tr = &rafthttp.Transport{
		Logger:      lg,
		ID:          types.ID(o.id),
		URLs:        types.MustNewURLs([]string{peerURL(o.raftListen)}),
		ClusterID:   types.ID(clusterID),
		Raft:        s,
		Snapshotter: st.snapshotter,
		ServerStats: stats.NewServerStats("", ""),
		LeaderStats: stats.NewLeaderStats(strconv.FormatUint(o.id, 10)),
		ErrorC:      make(chan error, 16),
	}
	if err := s.tr.Start(); err != nil {
		fatalf(exitUsage, "rafthttp: %v", err)
	}

	_, inBoot := boot[o.id]
	bootstrap := st.fresh && inBoot && !o.join
	if bootstrap && len(boot) > 1 {
		window := 2 * s.electionTO
		if window < 2*time.Second {
			window = 2 * time.Second
		}
		if peersHaveLog(o.id, boot, window) {
			lg.Warn("a peer already has a log: joining the existing group instead of bootstrapping")
			bootstrap = false
		}
	}
	switch {
	case bootstrap:
		peers := make([]raft.Peer, 0, len(boot))
		for _, id := range boot.sortedIDs() {
			ctx, _ := json.Marshal(ccContext{Raft: boot[id].Raft, Client: boot[id].Client})
			peers = append(peers, raft.Peer{ID: id, Context: ctx})
		}
		s.node = raft.StartNode(c, peers)
	default:
		// A restart (the log's membership wins) or a member joining an existing group: it
		// waits for the leader's entries or snapshot.
		s.node = raft.RestartNode(c)
	}
	// Peers are dialled at this member's bootstrap addresses (a test may put proxies there),
	// then at the addresses of the log's membership for members not in the bootstrap map.
	for id, a := range boot {
		s.addPeer(id, a.Raft)
	}
	for id, a := range s.mem {
		s.addPeer(id, a.Raft)
	}
	fileutil.PurgeFile(lg, st.walDir, "wal", 5, 30*time.Second, s.purgeStopC)
	return s
}

func (s *sidecar) addPeer(id uint64, raftAddr string) {
	if id == s.o.id || raftAddr == "" {
		return
	}
	if _, ok := s.dialedPeers[id]; ok {
		return
	}
	s.dialedPeers[id] = raftAddr
	s.tr.AddPeer(types.ID(id), []string{peerURL(raftAddr)})
}

func (s *sidecar) removePeer(id uint64) {
	if id == s.o.id {
		return
	}
	delete(s.dialedPeers, id)
	s.tr.RemovePeer(types.ID(id))
}

// rafthttp.Raft -----------------------------------------------------------------------------

// errRemovedSender refuses traffic from a member removed from the group (as etcd's server
// does): a removed leader would otherwise keep its old followers from electing a new one.
var errRemovedSender = errors.New("message from a removed member")

func (s *sidecar) Process(ctx context.Context, m raftpb.Message) error {
	if s.IsIDRemoved(m.From) {
		return errRemovedSender
	}
	s.heardMu.Lock()
	s.heard[m.From] = time.Now()
	s.heardMu.Unlock()
	return s.node.Step(ctx, m)
}

func (s *sidecar) IsIDRemoved(id uint64) bool {
	s.removedMu.Lock()
	defer s.removedMu.Unlock()
	return s.removed[id]
}

func (s *sidecar) ReportUnreachable(id uint64) { s.node.ReportUnreachable(id) }

func (s *sidecar) ReportSnapshot(id uint64, st raft.SnapshotStatus) {
	s.node.ReportSnapshot(id, st)
}

// The loop ------------------------------------------------------------------------------------

func (s *sidecar) run() {
	s.sendStatus(false)
	hb := time.Duration(s.o.heartbeatMs) * time.Millisecond
	ticker := time.NewTicker(hb)
	defer ticker.Stop()
	lastTick := time.Now()
	for {
		select {
		case <-ticker.C:
			if s.serverWatchdog(time.Now()) {
				// A hung server: this member neither leads nor campaigns (its Raft clock stands).
				lastTick = time.Now()
				s.sendStatus(false)
				continue
			}
			s.tick(&lastTick, hb)
			s.leaderWatchdog(time.Now())
			s.expire(time.Now())
			s.sendStatus(false)
		case rd := <-s.node.Ready():
			s.handleReady(rd)
		case f := <-s.cmds:
			s.handleCommand(f)
		case cf := <-s.confFailC:
			if _, ok := s.confs[cf.tag]; ok {
				delete(s.confs, cf.tag)
				s.confResult(cf.tag, false, cf.reason)
			}
		case <-s.exitReq:
			s.st.wal.Sync()
			fatalf(exitFdClosed, "fd 3 closed (server gone); exiting")
		case err := <-s.tr.ErrorC:
			s.lg.Warn("rafthttp error", zap.Error(err))
		}
	}
}

// tick advances the Raft clock by the heartbeat intervals that passed since the last tick. A
// Go ticker drops the ticks a starved process missed (a loaded machine, a long fsync in the
// loop), which would stretch the election timeout in wall time; they are made up here, at
// most one election timeout's worth at once.
func (s *sidecar) tick(last *time.Time, hb time.Duration) {
	now := time.Now()
	n := int(now.Sub(*last) / hb)
	if n < 1 {
		n = 1
	}
	maxN := s.o.electionMs / s.o.heartbeatMs
	if maxN > 64 {
		maxN = 64 // raft's tick channel holds 128
	}
	if n > maxN {
		n = maxN
		*last = now
	} else {
		*last = last.Add(time.Duration(n) * hb)
	}
	for i := 0; i < n; i++ {
		s.node.Tick()
	}
}

func (s *sidecar) handleReady(rd raft.Ready) {
	wasLeader := s.soft.RaftState == raft.StateLeader
	oldLead, oldTerm := s.soft.Lead, s.term
	if rd.SoftState != nil {
		s.soft = *rd.SoftState
		s.isLeader.Store(s.soft.RaftState == raft.StateLeader)
		s.hasLead.Store(s.soft.Lead != raft.None)
	}
	if !raft.IsEmptyHardState(rd.HardState) {
		s.term = rd.HardState.Term
		s.commit = rd.HardState.Commit
	}
	// A leader may send before its own fsync, so the followers write in parallel (raft may
	// then count the leader's entries as committed before they reach its disk, which is why
	// committed entries go to the server only after this Ready's WAL write below). Everyone
	// else sends after: a vote or an append acknowledgement must not precede durability.
	if wasLeader && s.soft.RaftState == raft.StateLeader {
		s.sendMessages(rd.Messages)
	}
	// Committed entries that an earlier Save already put on this member's disk go to the server
	// now, not after this Ready's WAL write: under load that write (newer entries) is always in
	// progress, and waiting for it put a whole fdatasync more on every commit. They are durable
	// on a majority (this disk counts: a leader counts itself). An entry this Ready is only now
	// writing, or a snapshot in the Ready, keeps the order above: after the write.
	early := raft.IsEmptySnap(rd.Snapshot) && len(rd.CommittedEntries) > 0 &&
		rd.CommittedEntries[len(rd.CommittedEntries)-1].Index <= s.persisted
	if early {
		if s.soft.Lead != oldLead || s.term != oldTerm {
			s.failReads("leader changed")
		}
		s.applyCommitted(rd.CommittedEntries)
	}
	if err := s.st.wal.Save(rd.HardState, rd.Entries); err != nil {
		fatalf(exitFatal, "WAL write failed: %v", err)
	}
	if n := len(rd.Entries); n > 0 {
		s.persisted = rd.Entries[n-1].Index // a conflicting append truncates the log to it
	}
	if !raft.IsEmptySnap(rd.Snapshot) {
		if err := s.st.saveSnap(rd.Snapshot); err != nil {
			fatalf(exitFatal, "saving received snapshot failed: %v", err)
		}
		if err := s.st.ms.ApplySnapshot(rd.Snapshot); err != nil {
			fatalf(exitFatal, "applying received snapshot failed: %v", err)
		}
		s.st.removeSnapDBs()
		s.installSnapshot(rd.Snapshot)
		if len(rd.Entries) == 0 {
			s.persisted = rd.Snapshot.Metadata.Index // the log now starts after it
		}
	}
	if err := s.st.ms.Append(rd.Entries); err != nil {
		fatalf(exitFatal, "memory storage append failed: %v", err)
	}
	if !(wasLeader && s.soft.RaftState == raft.StateLeader) {
		s.sendMessages(rd.Messages)
	}
	if !early {
		if s.soft.Lead != oldLead || s.term != oldTerm {
			s.failReads("leader changed")
		}
		s.applyCommitted(rd.CommittedEntries)
	}
	for _, rs := range rd.ReadStates {
		if len(rs.RequestCtx) != 8 {
			continue
		}
		tag := binary.LittleEndian.Uint64(rs.RequestCtx)
		if _, ok := s.reads[tag]; ok {
			delete(s.reads, tag)
			e := newEncoder(msgReadIndexOK, 16)
			e.u64(tag)
			e.u64(rs.Index)
			s.send(e.finish())
		}
	}
	s.sendStatus(true)
	s.node.Advance()
}

func (s *sidecar) sendMessages(msgs []raftpb.Message) {
	if len(msgs) == 0 {
		return
	}
	rest := msgs[:0:0]
	for _, m := range msgs {
		if m.Type == raftpb.MsgSnap {
			m = withRecipient(m)
			// The snapshot rides in the message itself; the stream after it is empty. The
			// snapshot endpoint has no 64 KiB limit (the pipeline has).
			s.tr.SendSnapshot(*snap.NewMessage(m, emptyReadCloser{}, 0))
			continue
		}
		rest = append(rest, m)
	}
	s.tr.Send(rest)
}

// withRecipient makes sure a snapshot's voters include its recipient. etcd's raft 3.4 ignores a
// snapshot whose ConfState lacks the receiving member ("should never happen": etcd's server
// builds a fresh snapshot at the applied index for every send). Ours was taken by the server
// earlier, possibly before the recipient was added; its addition is committed (the leader only
// contacts a member once the change is applied), so the recipient may count itself in from the
// snapshot on; the add entry that follows is then a no-op.
func withRecipient(m raftpb.Message) raftpb.Message {
	cs := m.Snapshot.Metadata.ConfState
	for _, id := range cs.Voters {
		if id == m.To {
			return m
		}
	}
	for _, id := range cs.Learners {
		if id == m.To {
			return m
		}
	}
	cs.Voters = append(append([]uint64(nil), cs.Voters...), m.To)
	m.Snapshot.Metadata.ConfState = cs
	return m
}

type emptyReadCloser struct{}

func (emptyReadCloser) Read([]byte) (int, error) { return 0, io.EOF }
func (emptyReadCloser) Close() error             { return nil }

// installSnapshot adopts a snapshot received from the leader: membership from its envelope,
// peers dialled, and (once resynced) SNAPSHOT_INSTALL to the server.
func (s *sidecar) installSnapshot(sn raftpb.Snapshot) {
	m, data, err := unwrapSnapshot(sn.Data)
	if err != nil {
		fatalf(exitFatal, "received snapshot at index %d: %v", sn.Metadata.Index, err)
	}
	s.mem = m
	for id, a := range m {
		s.addPeer(id, a.Raft)
	}
	s.snapIndex = sn.Metadata.Index
	s.applied = sn.Metadata.Index
	s.hist = []memAt{{index: sn.Metadata.Index, cs: sn.Metadata.ConfState, mem: m.clone()}}
	if s.resynced {
		s.sendSnapshotInstall(sn.Metadata.Index, sn.Metadata.Term, data)
		s.delivered = sn.Metadata.Index
	}
}

func (s *sidecar) sendSnapshotInstall(index, term uint64, data []byte) {
	e := newEncoder(msgSnapshotInstall, 20+len(data))
	e.u64(index)
	e.u64(term)
	e.bytes(data)
	s.send(e.finish())
}

// applyCommitted applies conf changes to raft and sends the entries to the server in ENTRIES
// frames (each at most ~1 MiB). Every entry here is already in this member's WAL.
func (s *sidecar) applyCommitted(ents []raftpb.Entry) {
	var batch []raftpb.Entry
	var extra [][]byte // ENTRIES data for conf-change entries, parallel to batch
	size := 0
	flush := func() {
		if len(batch) > 0 && s.resynced {
			s.sendEntries(batch, extra)
			s.delivered = batch[len(batch)-1].Index
		}
		batch, extra, size = batch[:0], extra[:0], 0
	}
	for i := range ents {
		e := ents[i]
		if e.Index <= s.applied {
			continue
		}
		var data []byte
		switch e.Type {
		case raftpb.EntryConfChange:
			data = s.applyConfChange(e)
		case raftpb.EntryConfChangeV2:
			var cc raftpb.ConfChangeV2
			if err := cc.Unmarshal(e.Data); err == nil {
				s.node.ApplyConfChange(cc)
			}
			data = []byte(`{"op":"v2"}`)
		default:
			data = e.Data
		}
		s.applied = e.Index
		batch = append(batch, e)
		extra = append(extra, data)
		size += len(data) + 32
		if size >= entriesFrameBytes {
			flush()
		}
	}
	flush()
}

func (s *sidecar) sendEntries(batch []raftpb.Entry, data [][]byte) {
	size := 4
	for _, d := range data {
		size += 21 + 4 + len(d)
	}
	e := newEncoder(msgEntries, size)
	e.u32(uint32(len(batch)))
	for i, en := range batch {
		e.u64(en.Index)
		e.u64(en.Term)
		if en.Type == raftpb.EntryNormal {
			e.u8(0)
		} else {
			e.u8(1)
		}
		e.bytes(data[i])
	}
	s.send(e.finish())
}

func (s *sidecar) applyConfChange(e raftpb.Entry) []byte {
	var cc raftpb.ConfChange
	if err := cc.Unmarshal(e.Data); err != nil {
		fatalf(exitFatal, "conf change at index %d does not decode: %v", e.Index, err)
	}
	cs := s.node.ApplyConfChange(cc)
	var ctx ccContext
	if len(cc.Context) > 0 {
		if err := json.Unmarshal(cc.Context, &ctx); err != nil {
			s.lg.Warn("conf change context is not JSON", zap.Uint64("index", e.Index))
		}
	}
	out := ccEntryData{ID: strconv.FormatUint(cc.NodeID, 10), Raft: ctx.Raft, Client: ctx.Client}
	switch cc.Type {
	case raftpb.ConfChangeAddNode, raftpb.ConfChangeAddLearnerNode:
		out.Op = "add"
		s.mem[cc.NodeID] = memberAddr{Raft: ctx.Raft, Client: ctx.Client}
		s.removedMu.Lock()
		delete(s.removed, cc.NodeID)
		s.removedMu.Unlock()
		s.addPeer(cc.NodeID, ctx.Raft)
	case raftpb.ConfChangeRemoveNode:
		out.Op = "remove"
		if a, ok := s.mem[cc.NodeID]; ok && out.Raft == "" {
			out.Raft, out.Client = a.Raft, a.Client
		}
		delete(s.mem, cc.NodeID)
		s.removedMu.Lock()
		s.removed[cc.NodeID] = true
		s.removedMu.Unlock()
		s.removePeer(cc.NodeID)
	default:
		out.Op = "update"
	}
	s.hist = append(s.hist, memAt{index: e.Index, cs: *cs, mem: s.mem.clone()})
	if ctx.Proposer == s.o.id {
		if _, ok := s.confs[ctx.Tag]; ok {
			delete(s.confs, ctx.Tag)
			s.confResult(ctx.Tag, true, "")
		}
	}
	b, _ := json.Marshal(out)
	return b
}

// serverWatchdog: a server that sends no frame (it PINGs every heartbeat) for an election
// timeout is hung (SIGSTOP, a stuck loop): its clients get no answers, so this member must not
// keep Raft leadership, which its live sidecar alone would keep forever. A hung leader hands
// leadership to the follower it heard from last (TransferLeadership: the follower campaigns at
// once) and stops ticking, so it sends no more heartbeats and the followers elect without it
// should the transfer not happen; a hung follower stops ticking, so it never campaigns. When
// frames come again the clock runs again. True while the server is hung.
func (s *sidecar) serverWatchdog(now time.Time) bool {
	if !s.serverPings.Load() {
		return false
	}
	// Silence counts only while this process ran: a sidecar stopped along with its server (one
	// SIGSTOP for both, a VM pause) gives the server a fresh election timeout when it resumes.
	if !s.lastWatch.IsZero() && now.Sub(s.lastWatch) > 3*time.Duration(s.o.heartbeatMs)*time.Millisecond {
		s.serverSeen.Store(now.UnixNano())
	}
	s.lastWatch = now
	silent := now.Sub(time.Unix(0, s.serverSeen.Load()))
	if silent < s.electionTO {
		if s.serverHung {
			s.lg.Warn("server answers again; the Raft clock runs again")
			s.serverHung = false
		}
		return false
	}
	if !s.serverHung {
		s.serverHung = true
		s.lg.Warn("server silent for an election timeout; not leading or campaigning",
			zap.Duration("silent", silent))
		if s.soft.RaftState == raft.StateLeader {
			var target uint64
			var last time.Time
			s.heardMu.Lock()
			for _, id := range s.mem.sortedIDs() {
				if t, ok := s.heard[id]; ok && id != s.o.id && t.After(last) {
					target, last = id, t
				}
			}
			s.heardMu.Unlock()
			if target != 0 {
				s.node.TransferLeadership(context.Background(), s.o.id, target)
			}
		}
	}
	return true
}
