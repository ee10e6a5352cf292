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
	"os"
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

func newSidecar(o options, lg *zap.Logger, st *store, boot members, out chan<- []byte) *sidecar {
	s := &sidecar{
		o: o, lg: lg, st: st, out: out,
		cmds:        make(chan frame, 1024),
		exitReq:     make(chan struct{}, 1),
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

// Output --------------------------------------------------------------------------------------

func (s *sidecar) send(b []byte) { s.out <- b }

func (s *sidecar) proposeFailed(tag uint64, reason string) {
	e := newEncoder(msgProposeFailed, 12+len(reason))
	e.u64(tag)
	e.str(reason)
	s.send(e.finish())
}

func (s *sidecar) confResult(tag uint64, ok bool, reason string) {
	e := newEncoder(msgConfResult, 13+len(reason))
	e.u64(tag)
	if ok {
		e.u8(1)
	} else {
		e.u8(0)
	}
	e.str(reason)
	s.send(e.finish())
}

func (s *sidecar) readFailed(tag uint64, reason string) {
	e := newEncoder(msgReadIndexFailed, 12+len(reason))
	e.u64(tag)
	e.str(reason)
	s.send(e.finish())
}

func (s *sidecar) currentStatus() status {
	return status{
		leader: s.soft.Lead, term: s.term, role: s.soft.RaftState,
		commit: s.commit, applied: s.delivered, mem: string(s.mem.marshal()),
	}
}

// sendStatus sends STATUS when it differs from the last one sent; `urgent` restricts that to
// changes of leader, term, role or membership (commit/applied progress waits for the tick).
func (s *sidecar) sendStatus(urgent bool) {
	cur := s.currentStatus()
	last := s.lastStatus
	if s.statusSent {
		if cur == last {
			return
		}
		if urgent && cur.leader == last.leader && cur.term == last.term && cur.role == last.role &&
			cur.mem == last.mem {
			return
		}
	}
	s.lastStatus, s.statusSent = cur, true
	e := newEncoder(msgStatus, 64+len(cur.mem))
	e.u64(s.o.id)
	e.u64(cur.leader)
	e.u64(cur.term)
	e.u8(byte(cur.role))
	e.u64(cur.commit)
	e.u64(cur.applied)
	ids := s.mem.sortedIDs()
	e.u32(uint32(len(ids)))
	for _, id := range ids {
		e.u64(id)
		e.str(s.mem[id].Raft)
		e.str(s.mem[id].Client)
	}
	s.send(e.finish())
}

// Input -----------------------------------------------------------------------------------------

// handleFrame runs on the reader goroutine. PROPOSE goes straight to raft; the rest is queued
// for run(). A malformed payload is returned as a protocol error.
func (s *sidecar) handleFrame(f frame) error {
	d := &decoder{b: f.payload}
	switch f.typ {
	case msgPropose:
		tag := d.u64("tag")
		data := d.bytes("data")
		if err := d.done("PROPOSE"); err != nil {
			return err
		}
		s.propose(tag, data)
		return nil
	case msgConfChange:
		d.u64("tag")
		op := d.u8("op")
		d.u64("id")
		d.bytes("raft")
		d.bytes("client")
		if err := d.done("CONF_CHANGE"); err != nil {
			return err
		}
		if op != 1 && op != 2 {
			return &protocolError{"malformed CONF_CHANGE frame: op " + strconv.Itoa(int(op)) + " (1 add, 2 remove)"}
		}
	case msgSnapshotTaken:
		d.u64("index")
		d.bytes("path")
		if err := d.done("SNAPSHOT_TAKEN"); err != nil {
			return err
		}
	case msgReadIndex:
		d.u64("tag")
		if err := d.done("READ_INDEX"); err != nil {
			return err
		}
	case msgResync:
		if err := d.done("RESYNC"); err != nil {
			return err
		}
	case msgTransfer:
		d.u64("target")
		if err := d.done("TRANSFER"); err != nil {
			return err
		}
	}
	s.cmds <- f
	return nil
}

func (s *sidecar) propose(tag uint64, data []byte) {
	if !s.isLeader.Load() {
		s.proposeFailed(tag, "not leader")
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.electionTO)
	err := s.node.Propose(ctx, data)
	cancel()
	switch {
	case err == raft.ErrProposalDropped:
		s.proposeFailed(tag, "not leader")
	case err == context.DeadlineExceeded:
		s.proposeFailed(tag, "timeout (no leader)")
	case err != nil:
		s.proposeFailed(tag, err.Error())
	}
}

// The loop ------------------------------------------------------------------------------------

func (s *sidecar) run() {
	s.sendStatus(false)
	ticker := time.NewTicker(time.Duration(s.o.heartbeatMs) * time.Millisecond)
	defer ticker.Stop()
	for {
		select {
		case <-ticker.C:
			s.node.Tick()
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
	// A leader may send before its own fsync (the followers write in parallel; it counts
	// itself only through its stable log). Everyone else sends after: a vote or an append
	// acknowledgement must not precede durability.
	if wasLeader && s.soft.RaftState == raft.StateLeader {
		s.sendMessages(rd.Messages)
	}
	if err := s.st.wal.Save(rd.HardState, rd.Entries); err != nil {
		fatalf(exitFatal, "WAL write failed: %v", err)
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
	}
	if err := s.st.ms.Append(rd.Entries); err != nil {
		fatalf(exitFatal, "memory storage append failed: %v", err)
	}
	if !(wasLeader && s.soft.RaftState == raft.StateLeader) {
		s.sendMessages(rd.Messages)
	}
	if s.soft.Lead != oldLead || s.term != oldTerm {
		s.failReads("leader changed")
	}
	s.applyCommitted(rd.CommittedEntries)
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

// Commands from the server ------------------------------------------------------------------

func (s *sidecar) handleCommand(f frame) {
	d := &decoder{b: f.payload}
	switch f.typ {
	case msgConfChange:
		tag, op, id := d.u64("tag"), d.u8("op"), d.u64("id")
		raftAddr, client := string(d.bytes("raft")), string(d.bytes("client"))
		s.confChange(tag, op, id, raftAddr, client)
	case msgSnapshotTaken:
		index, path := d.u64("index"), string(d.bytes("path"))
		s.snapshotTaken(index, path)
	case msgReadIndex:
		tag := d.u64("tag")
		if !s.hasLead.Load() {
			s.readFailed(tag, "no leader")
			return
		}
		if _, dup := s.reads[tag]; dup {
			s.readFailed(tag, "duplicate tag")
			return
		}
		s.reads[tag] = pending{deadline: time.Now().Add(s.o.requestTimeout)}
		var rctx [8]byte
		binary.LittleEndian.PutUint64(rctx[:], tag)
		if err := s.node.ReadIndex(context.Background(), rctx[:]); err != nil {
			delete(s.reads, tag)
			s.readFailed(tag, err.Error())
		}
	case msgResync:
		s.resync()
	case msgTransfer:
		target := d.u64("target")
		s.node.TransferLeadership(context.Background(), s.soft.Lead, target)
	}
}

func (s *sidecar) confChange(tag uint64, op byte, id uint64, raftAddr, client string) {
	if s.soft.RaftState != raft.StateLeader {
		s.confResult(tag, false, "not leader")
		return
	}
	if id == 0 || id > 1<<63 {
		s.confResult(tag, false, "member id must be in 1..2^63")
		return
	}
	if _, dup := s.confs[tag]; dup {
		s.confResult(tag, false, "duplicate tag")
		return
	}
	if len(s.confs) > 0 {
		s.confResult(tag, false, "another membership change is in progress")
		return
	}
	_, isMember := s.mem[id]
	cc := raftpb.ConfChange{NodeID: id}
	switch op {
	case 1:
		if isMember {
			s.confResult(tag, false, "member "+strconv.FormatUint(id, 10)+" already exists")
			return
		}
		if raftAddr == "" {
			s.confResult(tag, false, "a new member needs a raft address")
			return
		}
		cc.Type = raftpb.ConfChangeAddNode
	case 2:
		if !isMember {
			s.confResult(tag, false, "member "+strconv.FormatUint(id, 10)+" does not exist")
			return
		}
		if len(s.mem) == 1 {
			s.confResult(tag, false, "cannot remove the last member")
			return
		}
		cc.Type = raftpb.ConfChangeRemoveNode
		if a := s.mem[id]; raftAddr == "" {
			raftAddr, client = a.Raft, a.Client
		}
	}
	cc.Context, _ = json.Marshal(ccContext{Raft: raftAddr, Client: client, Proposer: s.o.id, Tag: tag})
	s.confs[tag] = pending{deadline: time.Now().Add(s.o.requestTimeout)}
	// ProposeConfChange blocks while raft has no leader; keep the loop free.
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), s.o.requestTimeout)
		defer cancel()
		if err := s.node.ProposeConfChange(ctx, cc); err != nil {
			reason := err.Error()
			if err == raft.ErrProposalDropped {
				reason = "not leader"
			}
			s.confFailC <- confFail{tag: tag, reason: reason}
		}
	}()
}

// leaderWatchdog bounds how long a cut-off leader keeps believing it leads. etcd's raft checks
// quorum activity once per election timeout (CheckQuorum), on a schedule of its own, so a
// leader cut off just after a check would lead for up to two election timeouts. Once this
// leader has heard nothing from a majority for an election timeout less one heartbeat, its
// logical clock is advanced by an election timeout, which makes raft run that same check now
// (and, if a message from before the cut still counted, again on the next tick). Raft's safety
// does not depend on tick timing; followers still wait at least an election timeout before
// electing.
func (s *sidecar) leaderWatchdog(now time.Time) {
	if s.soft.RaftState != raft.StateLeader {
		return
	}
	voters := s.mem.sortedIDs()
	active, self := 0, false
	// One heartbeat short of an election timeout: the leader is gone before any follower,
	// which waits at least an election timeout after its last heartbeat, can campaign.
	window := s.electionTO - time.Duration(s.o.heartbeatMs)*time.Millisecond
	s.heardMu.Lock()
	for _, id := range voters {
		if id == s.o.id {
			self = true
			active++
		} else if t, ok := s.heard[id]; ok && now.Sub(t) < window {
			active++
		}
	}
	s.heardMu.Unlock()
	if !self || active >= len(voters)/2+1 {
		return
	}
	ticks := s.o.electionMs / s.o.heartbeatMs
	if ticks > 64 {
		ticks = 64 // raft's tick channel holds 128
	}
	for i := 0; i < ticks; i++ {
		s.node.Tick()
	}
}

// expire fails READ_INDEX and CONF_CHANGE requests older than --request-timeout-ms. A conf
// change that times out may still commit later (its outcome is then visible in ENTRIES).
func (s *sidecar) expire(now time.Time) {
	for tag, p := range s.reads {
		if now.After(p.deadline) {
			delete(s.reads, tag)
			s.readFailed(tag, "timeout")
		}
	}
	for tag, p := range s.confs {
		if now.After(p.deadline) {
			delete(s.confs, tag)
			s.confResult(tag, false, "timeout (the change may still commit; check the membership)")
		}
	}
}

func (s *sidecar) failReads(reason string) {
	for tag := range s.reads {
		delete(s.reads, tag)
		s.readFailed(tag, reason)
	}
}

// resync sends the committed state from scratch: the latest snapshot (if any), then every
// committed entry after it, then new entries as they commit.
func (s *sidecar) resync() {
	sn, err := s.st.ms.Snapshot()
	if err != nil {
		fatalf(exitFatal, "reading snapshot: %v", err)
	}
	s.resynced = true
	if !raft.IsEmptySnap(sn) {
		_, data, err := unwrapSnapshot(sn.Data)
		if err != nil {
			fatalf(exitFatal, "snapshot at index %d: %v", sn.Metadata.Index, err)
		}
		s.sendSnapshotInstall(sn.Metadata.Index, sn.Metadata.Term, data)
	}
	s.delivered = sn.Metadata.Index
	for lo := sn.Metadata.Index + 1; lo <= s.applied; {
		ents, err := s.st.ms.Entries(lo, s.applied+1, entriesFrameBytes)
		if err != nil {
			fatalf(exitFatal, "reading entries %d..%d: %v", lo, s.applied, err)
		}
		data := make([][]byte, len(ents))
		for i, e := range ents {
			data[i] = e.Data
			if e.Type == raftpb.EntryConfChange {
				data[i] = confChangeEntryData(e, s.memBefore(e.Index))
			}
		}
		s.sendEntries(ents, data)
		lo = ents[len(ents)-1].Index + 1
		s.delivered = ents[len(ents)-1].Index
	}
	s.sendStatus(false)
}

// memBefore is the membership just before index i (for a remove's addresses on RESYNC).
func (s *sidecar) memBefore(i uint64) members {
	m := s.hist[0].mem
	for _, h := range s.hist {
		if h.index >= i {
			break
		}
		m = h.mem
	}
	return m
}

// confChangeEntryData rebuilds the ENTRIES JSON of a conf change already applied.
func confChangeEntryData(e raftpb.Entry, before members) []byte {
	var cc raftpb.ConfChange
	if err := cc.Unmarshal(e.Data); err != nil {
		return []byte(`{"op":"v2"}`)
	}
	var ctx ccContext
	_ = json.Unmarshal(cc.Context, &ctx)
	out := ccEntryData{ID: strconv.FormatUint(cc.NodeID, 10), Raft: ctx.Raft, Client: ctx.Client}
	switch cc.Type {
	case raftpb.ConfChangeAddNode, raftpb.ConfChangeAddLearnerNode:
		out.Op = "add"
	case raftpb.ConfChangeRemoveNode:
		out.Op = "remove"
		if a, ok := before[cc.NodeID]; ok && out.Raft == "" {
			out.Raft, out.Client = a.Raft, a.Client
		}
	default:
		out.Op = "update"
	}
	b, _ := json.Marshal(out)
	return b
}

// snapshotTaken saves the server's engine state as the Raft snapshot at `index` and compacts
// the log, keeping --catchup-entries entries before it for slightly lagging followers.
func (s *sidecar) snapshotTaken(index uint64, path string) {
	if index <= s.snapIndex {
		s.lg.Warn("SNAPSHOT_TAKEN ignored: not newer than the current snapshot",
			zap.Uint64("index", index), zap.Uint64("snapshot-index", s.snapIndex))
		return
	}
	if index > s.applied {
		s.lg.Warn("SNAPSHOT_TAKEN ignored: index not yet committed here",
			zap.Uint64("index", index), zap.Uint64("applied", s.applied))
		return
	}
	data, err := os.ReadFile(path)
	if err != nil {
		s.lg.Warn("SNAPSHOT_TAKEN ignored: cannot read the file", zap.String("path", path), zap.Error(err))
		return
	}
	at := s.hist[0]
	keep := 0
	for i, h := range s.hist {
		if h.index <= index {
			at, keep = h, i
		}
	}
	sn, err := s.st.ms.CreateSnapshot(index, &at.cs, wrapSnapshot(at.mem, data))
	if err != nil {
		s.lg.Warn("SNAPSHOT_TAKEN ignored", zap.Uint64("index", index), zap.Error(err))
		return
	}
	if err := s.st.saveSnap(sn); err != nil {
		fatalf(exitFatal, "saving snapshot at index %d failed: %v", index, err)
	}
	s.snapIndex = index
	s.hist = s.hist[keep:]
	s.hist[0].index = index
	if index > s.o.catchupEntries {
		if err := s.st.ms.Compact(index - s.o.catchupEntries); err != nil && err != raft.ErrCompacted {
			s.lg.Warn("log compaction failed", zap.Error(err))
		}
	}
	s.st.pruneSnaps(3)
	os.Remove(path)
}
