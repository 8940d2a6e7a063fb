// HoloCall web client: joins a room with the browser's camera and microphone.
//
// Browser APIs only. Tokens come from the REST API, the room from the /ws protocol
// (docs/server.md), and the peers speak the data-channel protocol of docs/protocol.md on the
// `control` and `hologram` channels. The browser says hello in mode `video` (3): its first video
// track is a plain camera picture, which HoloCall Desktop shows on a panel at its seat. It reads
// avatar frames (HoloCall participants send it their avatar instead of the hologram), chat, the
// screen a participant shares, and answers pings. docs/web.md describes it.
//
// window.holocall.stats() reports what the page received (the tests read it).
'use strict';

(() => {
  const VERSION = 1;
  const T = { VOLUMETRIC: 0x56, AVATAR: 0x41, ANCHOR: 0x53, HELLO: 0x48, PING: 0x50, PONG: 0x51,
    FEEDBACK: 0x46, REPORT: 0x52, CONSENT: 0x43, MODE: 0x4d, CHAT: 0x54, SCREEN: 0x44, BYE: 0x42 };
  const MODE = { NONE: 0, VOLUMETRIC: 1, AVATAR: 2, VIDEO: 3 };
  const MODE_NAMES = ['camera off', 'hologram', 'avatar', 'video'];
  const CAP = { AVATAR: 1 << 2, AUDIO: 1 << 4, CHAT: 1 << 7, SCREEN: 1 << 8 };
  const MY_CAPS = CAP.AVATAR | CAP.AUDIO | CAP.CHAT | CAP.SCREEN;
  const MAX_CHAT = 500;
  const ID = /^[A-Za-z0-9_.-]{1,64}$/;
  const enc = new TextEncoder();
  const dec = new TextDecoder('utf-8', { fatal: true });
  const $ = (id) => document.getElementById(id);

  const state = {
    status: 'starting', message: '', roomId: null, userId: null, invite: null, name: '',
    iceServers: [], ws: null, local: null, peers: new Map(), chatSeq: 0, chat: [], errors: [],
  };

  // ---- the page ----------------------------------------------------------------------------

  function setStatus(status, message) {
    state.status = status;
    state.message = message || '';
    $('status').textContent = message || status;
  }

  function fail(message) {
    state.errors.push(message);
    setStatus('failed', message);
  }

  function tile(id, label) {
    let el = document.querySelector(`.tile[data-id="${CSS.escape(id)}"]`);
    if (!el) {
      el = document.createElement('div');
      el.className = 'tile';
      el.dataset.id = id;
      const name = document.createElement('span');
      name.className = 'name';
      el.append(name);
      $('tiles').append(el);
    }
    if (label !== undefined) el.querySelector('.name').textContent = label;
    return el;
  }

  function setNote(el, text) {
    let note = el.querySelector('.note');
    if (!text) { if (note) note.remove(); return; }
    if (!note) { note = document.createElement('div'); note.className = 'note'; el.prepend(note); }
    note.textContent = text;
  }

  function showChat(who, sentMs, text, mine) {
    state.chat.push({ from: who, text, mine });
    const li = document.createElement('li');
    const name = document.createElement('span');
    name.className = 'who';
    name.textContent = who;
    const time = document.createElement('time');
    time.textContent = new Date(sentMs).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
    const body = document.createElement('span');
    body.textContent = text; // text, never markup
    li.append(name, time, body);
    $('messages').append(li);
    li.scrollIntoView({ block: 'end' });
  }

  // ---- the data-channel protocol (little-endian) -------------------------------------------

  function header(type, size) {
    const buf = new ArrayBuffer(size);
    const v = new DataView(buf);
    v.setUint8(0, VERSION);
    v.setUint8(1, type);
    return [buf, v];
  }

  function helloMessage() {
    const name = enc.encode(state.name).slice(0, 128);
    const [buf, v] = header(T.HELLO, 8 + name.length);
    v.setUint8(2, state.local && state.local.getVideoTracks().length ? MODE.VIDEO : MODE.NONE);
    v.setUint8(3, 0); // no volumetric codec
    v.setUint16(4, MY_CAPS, true);
    v.setUint8(6, VERSION);
    v.setUint8(7, name.length);
    new Uint8Array(buf, 8).set(name);
    return buf;
  }

  function pongMessage(seq, t1, t2) {
    const [buf, v] = header(T.PONG, 30);
    v.setUint32(2, seq, true);
    v.setFloat64(6, t1, true);
    v.setFloat64(14, t2, true);
    v.setFloat64(22, Date.now() / 1000, true);
    return buf;
  }

  function chatMessage(seq, text) {
    const bytes = enc.encode(text);
    const [buf, v] = header(T.CHAT, 16 + bytes.length);
    v.setUint32(2, seq, true);
    v.setFloat64(6, Date.now() / 1000, true);
    v.setUint16(14, bytes.length, true);
    new Uint8Array(buf, 16).set(bytes);
    return buf;
  }

  function simple(type, value) {
    const [buf, v] = header(type, 3);
    v.setUint8(2, value);
    return buf;
  }

  function cleanText(text) {
    return text.replace(/\r\n?/g, '\n').replace(/[\u0000-\u0008\u000b-\u001f\u007f]/g, '')
      .trim().slice(0, MAX_CHAT);
  }

  function onControl(peer, data) {
    if (!(data instanceof ArrayBuffer) || data.byteLength < 2) { peer.bad++; return; }
    const v = new DataView(data);
    if (v.getUint8(0) !== VERSION) { peer.bad++; return; }
    const now = Date.now() / 1000;
    try {
      switch (v.getUint8(1)) {
        case T.PING:
          if (data.byteLength !== 14) throw new Error('ping size');
          peer.pings++;
          send(peer.control, pongMessage(v.getUint32(2, true), v.getFloat64(6, true), now));
          break;
        case T.HELLO: {
          const n = v.getUint8(7);
          peer.name = dec.decode(new Uint8Array(data, 8, n)) || peer.id;
          peer.mode = v.getUint8(2);
          peer.capabilities = v.getUint16(4, true);
          peer.hello = true;
          showPeer(peer);
          break;
        }
        case T.MODE:
          peer.mode = v.getUint8(2);
          showPeer(peer);
          break;
        case T.CONSENT:
          peer.recording = Boolean(v.getUint8(2) & 4);
          showPeer(peer);
          break;
        case T.CHAT: {
          const n = v.getUint16(14, true);
          const text = dec.decode(new Uint8Array(data, 16, n));
          showChat(peer.name, v.getFloat64(6, true) * 1000, text, false);
          break;
        }
        case T.SCREEN: {
          const width = v.getUint16(2, true);
          const n = v.getUint8(7);
          peer.screen = width ? dec.decode(new Uint8Array(data, 8, n)) || 'Screen' : null;
          showScreen(peer);
          break;
        }
        case T.BYE:
          closePeer(peer.id, 'left');
          break;
        case T.PONG: case T.FEEDBACK: case T.REPORT:
          break; // we send no pings and no holograms
        default:
          peer.bad++;
      }
    } catch (err) {
      peer.bad++; // a malformed message is counted, never thrown out of the handler
    }
  }

  function onHologram(peer, data) {
    if (!(data instanceof ArrayBuffer) || data.byteLength < 2) { peer.bad++; return; }
    const v = new DataView(data);
    const type = v.getUint8(1);
    if (type === T.AVATAR && data.byteLength >= 91) {
      peer.avatarFrames++;
      peer.avatar = {
        rotation: [v.getFloat32(23, true), v.getFloat32(27, true), v.getFloat32(31, true), v.getFloat32(35, true)],
        shapes: new Uint8Array(data, 39, 52).slice(),
      };
      drawAvatar(peer);
    } else if (type === T.VOLUMETRIC && data.byteLength >= 8) {
      peer.fragments++; // holograms are drawn by HoloCall Desktop only (docs/web.md)
    } else if (type !== T.ANCHOR) {
      peer.bad++;
    }
  }

  function send(channel, buf) {
    if (channel && channel.readyState === 'open') channel.send(buf);
  }

  // ---- the avatar, drawn from its blendshapes ----------------------------------------------

  function drawAvatar(peer) {
    if (peer.mode === MODE.VIDEO) return;
    const el = tile(peer.id);
    let canvas = el.querySelector('canvas');
    if (!canvas) {
      canvas = document.createElement('canvas');
      canvas.width = 320; canvas.height = 240;
      el.prepend(canvas);
      setNote(el, '');
    }
    const s = (i) => peer.avatar.shapes[i] / 255;
    const [qx, qy, qz, qw] = peer.avatar.rotation;
    const roll = Math.atan2(2 * (qw * qz + qx * qy), 1 - 2 * (qy * qy + qz * qz));
    const g = canvas.getContext('2d');
    g.setTransform(1, 0, 0, 1, 0, 0);
    g.fillStyle = '#1b2230';
    g.fillRect(0, 0, 320, 240);
    g.translate(160, 125);
    g.rotate(-roll);
    g.fillStyle = '#e6b99b';
    g.beginPath(); g.ellipse(0, 0, 70, 90, 0, 0, 2 * Math.PI); g.fill();
    g.fillStyle = '#2b2b33';
    for (const [x, blink, brow] of [[-28, s(8), s(3)], [28, s(9), s(4)]]) {
      const open = Math.max(0.08, 1 - blink);
      g.beginPath(); g.ellipse(x, -20, 11, 8 * open, 0, 0, 2 * Math.PI); g.fill();
      g.fillRect(x - 14, -42 - 10 * Math.max(brow, s(2)), 28, 4);
    }
    const jaw = s(24);
    const smile = (s(43) + s(44)) / 2;
    g.fillStyle = '#7a2b33';
    g.beginPath();
    g.ellipse(0, 40 + 8 * jaw, 24 + 10 * smile, 3 + 22 * jaw, 0, 0, 2 * Math.PI);
    g.fill();
  }

  // ---- media and peers ---------------------------------------------------------------------

  function showPeer(peer) {
    const el = tile(peer.id, peer.name);
    el.classList.toggle('speaking', Boolean(peer.speaking));
    let rec = el.querySelector('.rec');
    if (peer.recording && !rec) {
      rec = document.createElement('span'); rec.className = 'rec'; rec.textContent = 'REC'; el.append(rec);
    } else if (!peer.recording && rec) rec.remove();
    const video = el.querySelector('video');
    if (video) video.hidden = peer.mode !== MODE.VIDEO;
    if (peer.mode === MODE.VIDEO) setNote(el, '');
    else if (!el.querySelector('canvas')) {
      setNote(el, peer.hello ? `${peer.name}: ${MODE_NAMES[peer.mode] || 'unknown mode'}` : 'Connecting…');
    }
  }

  function showScreen(peer) {
    const id = `${peer.id}#screen`;
    const old = document.querySelector(`.tile[data-id="${CSS.escape(id)}"]`);
    if (!peer.screen || !peer.screenTrack) { if (old) old.remove(); return; }
    const el = tile(id, `${peer.name} — ${peer.screen}`);
    el.classList.add('screen');
    if (!el.querySelector('video')) {
      const video = document.createElement('video');
      video.autoplay = true; video.muted = true; video.playsInline = true;
      video.srcObject = new MediaStream([peer.screenTrack]);
      el.prepend(video);
    }
    $('tiles').prepend(el);
  }

  function listen(peer, track) {
    const audio = document.createElement('audio');
    audio.autoplay = true;
    audio.srcObject = new MediaStream([track]);
    audio.play().catch(() => setStatus(state.status, 'Click anywhere to hear the others'));
    document.body.append(audio);
    peer.audioElement = audio;
    // the level and the dominant frequency of the voice, for the speaking ring (and the tests)
    const ctx = new AudioContext();
    const analyser = ctx.createAnalyser();
    analyser.fftSize = 2048;
    ctx.createMediaStreamSource(audio.srcObject).connect(analyser);
    const bins = new Float32Array(analyser.frequencyBinCount);
    peer.audioContext = ctx;
    peer.analyser = () => {
      analyser.getFloatFrequencyData(bins);
      let best = 0;
      for (let i = 1; i < bins.length; i++) if (bins[i] > bins[best]) best = i;
      return { frequency: best * ctx.sampleRate / analyser.fftSize, peakDb: bins[best] };
    };
    document.addEventListener('click', () => { audio.play(); ctx.resume(); }, { once: true });
  }

  function onTrack(peer, event) {
    const { track, transceiver } = event;
    if (track.kind === 'audio') { listen(peer, track); return; }
    const videos = peer.pc.getTransceivers().filter((t) => t.receiver.track && t.receiver.track.kind === 'video');
    if (videos.indexOf(transceiver) === 1) { // the second video track: a shared screen
      peer.screenTrack = track;
      showScreen(peer);
      return;
    }
    const el = tile(peer.id);
    const video = document.createElement('video');
    video.autoplay = true; video.muted = true; video.playsInline = true;
    video.srcObject = new MediaStream([track]);
    el.prepend(video);
    showPeer(peer);
  }

  function newPeer(id, offerer) {
    const pc = new RTCPeerConnection({ iceServers: state.iceServers, bundlePolicy: 'max-bundle' });
    const peer = { id, pc, offerer, name: id, mode: MODE.NONE, capabilities: 0, hello: false,
      control: null, hologram: null, pings: 0, avatarFrames: 0, fragments: 0, bad: 0,
      recording: false, screen: null, screenTrack: null, analyser: null, pending: [] };
    state.peers.set(id, peer);
    tile(id, id);
    showPeer(peer);
    pc.onicecandidate = ({ candidate }) => {
      if (candidate) signal({ type: 'ice-candidate', to: id, candidate: candidate.toJSON() });
    };
    pc.ontrack = (event) => onTrack(peer, event);
    pc.ondatachannel = ({ channel }) => attach(peer, channel);
    pc.onconnectionstatechange = () => {
      if (pc.connectionState === 'failed') closePeer(id, 'connection failed');
    };
    if (offerer) {
      attach(peer, pc.createDataChannel('hologram', { ordered: false, maxPacketLifeTime: 150 }));
      attach(peer, pc.createDataChannel('control'));
      const mic = state.local && state.local.getAudioTracks()[0];
      const cam = state.local && state.local.getVideoTracks()[0];
      pc.addTransceiver(mic || 'audio', { direction: mic ? 'sendrecv' : 'recvonly' });
      pc.addTransceiver(cam || 'video', { direction: cam ? 'sendrecv' : 'recvonly' });
      pc.addTransceiver('video', { direction: 'recvonly' }); // a screen shared with us
    }
    return peer;
  }

  function attach(peer, channel) {
    channel.binaryType = 'arraybuffer';
    if (channel.label === 'control') {
      peer.control = channel;
      channel.onopen = () => { send(channel, helloMessage()); send(channel, simple(T.CONSENT, 0)); };
      channel.onmessage = ({ data }) => onControl(peer, data);
      if (channel.readyState === 'open') channel.onopen();
    } else if (channel.label === 'hologram') {
      peer.hologram = channel;
      channel.onmessage = ({ data }) => onHologram(peer, data);
    }
  }

  async function answer(from, sdp) {
    // an offer from someone we are connected to is a restarted peer: a new connection
    if (state.peers.has(from)) closePeer(from, null);
    const peer = newPeer(from, false);
    await peer.pc.setRemoteDescription(sdp);
    const kinds = peer.pc.getTransceivers();
    const mic = state.local && state.local.getAudioTracks()[0];
    const cam = state.local && state.local.getVideoTracks()[0];
    const audio = kinds.find((t) => t.receiver.track.kind === 'audio');
    const videos = kinds.filter((t) => t.receiver.track.kind === 'video');
    if (audio && mic) { await audio.sender.replaceTrack(mic); audio.direction = 'sendrecv'; }
    if (videos[0] && cam) { await videos[0].sender.replaceTrack(cam); videos[0].direction = 'sendrecv'; }
    if (videos[1]) videos[1].direction = 'recvonly';
    await peer.pc.setLocalDescription(await peer.pc.createAnswer());
    for (const c of peer.pending.splice(0)) await peer.pc.addIceCandidate(c);
    signal({ type: 'answer', to: from, sdp: { type: 'answer', sdp: peer.pc.localDescription.sdp } });
  }

  async function offer(to) {
    const peer = newPeer(to, true);
    await peer.pc.setLocalDescription(await peer.pc.createOffer());
    signal({ type: 'offer', to, sdp: { type: 'offer', sdp: peer.pc.localDescription.sdp } });
  }

  async function candidate(from, cand) {
    const peer = state.peers.get(from);
    if (!peer || !cand || !cand.candidate) return;
    if (peer.pc.remoteDescription) await peer.pc.addIceCandidate(cand);
    else peer.pending.push(cand);
  }

  function closePeer(id, why) {
    const peer = state.peers.get(id);
    if (!peer) return;
    state.peers.delete(id);
    peer.pc.close();
    if (peer.audioElement) peer.audioElement.remove();
    if (peer.audioContext) peer.audioContext.close();
    for (const el of document.querySelectorAll('.tile')) {
      if (el.dataset.id === id || el.dataset.id === `${id}#screen`) el.remove();
    }
    if (why) state.left = (state.left || []).concat([{ userId: id, reason: why }]);
  }

  // ---- signaling ---------------------------------------------------------------------------

  function signal(msg) {
    if (state.ws && state.ws.readyState === WebSocket.OPEN) state.ws.send(JSON.stringify(msg));
  }

  async function onSignal(msg) {
    switch (msg.type) {
      case 'room-state':
        state.userId = msg.userId;
        state.iceServers = Array.isArray(msg.iceServers) ? msg.iceServers : [];
        setStatus('joined', `In room ${msg.roomId}`);
        for (const p of msg.participants || []) {
          if (p.userId !== state.userId && !state.peers.has(p.userId)) tile(p.userId, p.userId);
        }
        break;
      case 'user-joined': await offer(msg.userId); break;
      case 'offer': await answer(msg.from, msg.sdp); break;
      case 'answer': {
        const peer = state.peers.get(msg.from);
        if (peer) {
          await peer.pc.setRemoteDescription(msg.sdp);
          for (const c of peer.pending.splice(0)) await peer.pc.addIceCandidate(c);
        }
        break;
      }
      case 'ice-candidate': await candidate(msg.from, msg.candidate); break;
      case 'user-left': {
        closePeer(msg.userId, msg.reason);
        const el = document.querySelector(`.tile[data-id="${CSS.escape(msg.userId)}"]`);
        if (el) el.remove();
        break;
      }
      case 'room-full': fail(`The room is full (${msg.maxUsers} people)`); break;
      case 'server-shutdown': setStatus('ended', msg.message || 'The server is stopping'); break;
      case 'error': state.errors.push(`${msg.code}: ${msg.message}`); break;
      default: break;
    }
  }

  async function api(path, body) {
    const resp = await fetch(path, {
      method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body),
    });
    const data = await resp.json().catch(() => ({}));
    if (!resp.ok) throw new Error(data.message || `${path}: HTTP ${resp.status}`);
    return data;
  }

  function userIdFor(name) {
    const slug = name.normalize('NFKD').replace(/[^A-Za-z0-9_.-]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 40);
    const random = Array.from(crypto.getRandomValues(new Uint8Array(3)), (b) => b.toString(16).padStart(2, '0')).join('');
    return `${slug || 'web'}-${random}`;
  }

  async function join(name) {
    state.name = name.trim().slice(0, 64) || 'Guest';
    $('join').hidden = true;
    setStatus('connecting', 'Opening camera and microphone…');
    if (!navigator.mediaDevices) {
      // browsers give the camera only to secure pages: https:// or this machine (localhost)
      state.errors.push('camera/microphone: this page is not served over https://');
      state.local = null;
    } else {
      try {
        state.local = await navigator.mediaDevices.getUserMedia({ audio: true, video: { width: 640, height: 480 } });
      } catch (err) {
        state.errors.push(`camera/microphone: ${err.name}`);
        state.local = null;
      }
    }
    const me = tile('me', `${state.name} (you)`);
    if (state.local && state.local.getVideoTracks().length) {
      const video = document.createElement('video');
      video.autoplay = true; video.muted = true; video.playsInline = true;
      video.srcObject = state.local;
      me.prepend(video);
    } else setNote(me, navigator.mediaDevices ? 'No camera' : 'No camera: the browser allows it only over https://');
    const params = new URLSearchParams(location.search);
    const room = location.pathname.split('/')[2] || null;
    const userId = userIdFor(state.name);
    let tokens;
    try {
      if (room) {
        if (!ID.test(room)) throw new Error('this link has a malformed room id');
        const invite = params.get('invite');
        if (!invite) throw new Error('this link has no ?invite=… (ask for the whole invite link)');
        tokens = await api(`/rooms/${room}/tokens`, { inviteSecret: invite, userId });
        state.invite = location.href;
      } else {
        tokens = await api('/rooms', { userId, maxUsers: 3 }); // a mesh: the page cannot call through the SFU
        const link = `${location.origin}/join/${tokens.roomId}?invite=${encodeURIComponent(tokens.inviteSecret)}`;
        history.replaceState(null, '', `/join/${tokens.roomId}?invite=${encodeURIComponent(tokens.inviteSecret)}`);
        state.invite = link;
        $('invite-link').textContent = link;
        $('invite-link').href = link;
        $('invite').hidden = false;
      }
    } catch (err) {
      fail(`Cannot join: ${err.message}`);
      return;
    }
    state.roomId = tokens.roomId;
    const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
    const ws = new WebSocket(`${scheme}://${location.host}/ws?token=${encodeURIComponent(tokens.accessToken)}`);
    state.ws = ws;
    ws.onopen = () => signal({ type: 'join-room', roomId: tokens.roomId, userId });
    ws.onmessage = ({ data }) => {
      let msg;
      try { msg = JSON.parse(data); } catch (err) { return; }
      onSignal(msg).catch((err) => state.errors.push(`${msg.type}: ${err.message}`));
    };
    ws.onclose = (event) => {
      if (state.status !== 'left') setStatus('ended', `Disconnected from the server (${event.code})`);
    };
  }

  function leave() {
    for (const peer of state.peers.values()) send(peer.control, simple(T.BYE, 0));
    signal({ type: 'leave-room', roomId: state.roomId });
    for (const id of [...state.peers.keys()]) closePeer(id, 'left');
    if (state.local) for (const t of state.local.getTracks()) t.stop();
    setStatus('left', 'You left the call');
    if (state.ws) state.ws.close(1000);
  }

  function toggle(kind, button, on, off) {
    const tracks = state.local ? (kind === 'audio' ? state.local.getAudioTracks() : state.local.getVideoTracks()) : [];
    for (const t of tracks) t.enabled = !t.enabled;
    const enabled = tracks.some((t) => t.enabled);
    button.textContent = enabled ? on : off;
    button.classList.toggle('off', !enabled);
  }

  function say(text) {
    const clean = cleanText(text);
    if (!clean) return false;
    state.chatSeq += 1;
    for (const peer of state.peers.values()) {
      if (peer.capabilities & CAP.CHAT) send(peer.control, chatMessage(state.chatSeq, clean));
    }
    showChat(`${state.name} (you)`, Date.now(), clean, true);
    return true;
  }

  // ---- what the page received (for the tests and for curious users) ------------------------

  async function stats() {
    const peers = {};
    for (const peer of state.peers.values()) {
      const video = { camera: 0, screen: 0 };
      let audioPackets = 0;
      const report = await peer.pc.getStats();
      report.forEach((s) => {
        if (s.type !== 'inbound-rtp') return;
        if (s.kind === 'audio') audioPackets += s.packetsReceived || 0;
        if (s.kind === 'video') {
          const which = peer.screenTrack && s.trackIdentifier === peer.screenTrack.id ? 'screen' : 'camera';
          video[which] += s.framesDecoded || 0;
        }
      });
      peers[peer.id] = {
        name: peer.name, hello: peer.hello, mode: peer.mode, connection: peer.pc.connectionState,
        pings: peer.pings, avatarFrames: peer.avatarFrames, fragments: peer.fragments, bad: peer.bad,
        recording: peer.recording, screen: peer.screen, videoFrames: video, audioPackets,
        audio: peer.analyser ? peer.analyser() : null,
      };
    }
    return { status: state.status, message: state.message, roomId: state.roomId, userId: state.userId,
      invite: state.invite, errors: state.errors, chat: state.chat, left: state.left || [], peers };
  }

  window.holocall = { stats, say, leave, state };
  window.addEventListener('error', (e) => state.errors.push(`script: ${e.message}`));
  window.addEventListener('unhandledrejection', (e) => state.errors.push(`script: ${e.reason}`));

  $('say').addEventListener('submit', (e) => { e.preventDefault(); if (say($('text').value)) $('text').value = ''; });
  $('mic').addEventListener('click', () => toggle('audio', $('mic'), 'Mute', 'Unmute'));
  $('cam').addEventListener('click', () => toggle('video', $('cam'), 'Stop video', 'Start video'));
  $('leave').addEventListener('click', leave);
  window.addEventListener('pagehide', () => { if (state.status === 'joined') leave(); });

  const params = new URLSearchParams(location.search);
  const saved = params.get('name') || localStorage.getItem('holocall-name');
  $('join').addEventListener('submit', (e) => {
    e.preventDefault();
    localStorage.setItem('holocall-name', $('name').value);
    join($('name').value);
  });
  if (params.get('name')) join(params.get('name'));
  else {
    $('name').value = saved || '';
    $('join').hidden = false;
    setStatus('ready', 'Enter your name to join');
  }
})();
