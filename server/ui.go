package server

// The web UI: server-rendered pages under /ui/ (html/template, embedded with
// go:embed), sessions, CSRF tokens and the security headers every page
// carries. The pages themselves are in ui_pages.go, live updates in
// ui_events.go.

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"embed"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"html/template"
	"io/fs"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/hooktrigger/hooktrigger/store"
)

//go:embed web/templates/*.html web/static/*
var webFS embed.FS

const (
	sessionCookie = "hooktrigger_session"
	sessionTTL    = 12 * time.Hour
)

// contentSecurityPolicy forbids inline script and style and every origin but
// our own: anything injected through a payload has nothing to run with.
const contentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; " +
	"connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// uiState is the UI's per-process state: the key that signs sessions when
// no api_token is set, the templates and the broker of live events.
type uiState struct {
	key    []byte
	tmpl   map[string]*template.Template
	events *broker
}

// session is one signed-in browser. It lives in its cookie, signed with a
// key derived from api_token, so every instance on the same database and a
// restarted one accept it, and changing the token ends every session. What
// the server keeps is only the sessions signed out early (the store's
// revoked sessions), so that signing out holds on every instance too.
type session struct {
	nonce   []byte
	expires time.Time
	csrf    string
}

// revocationID names a session in the store: a hash of its nonce, so the
// database never holds what a cookie carries.
func (sess *session) revocationID() string {
	h := sha256.Sum256(sess.nonce)
	return hex.EncodeToString(h[:])
}

var (
	uiPageFiles  = []string{"dashboard", "delivery", "run", "triggers", "login", "error"}
	uiTemplateFn = template.FuncMap{
		"when":       fmtTime,
		"stateClass": func(s store.State) string { return "state-" + string(s) },
		"join":       strings.Join,
		"inc":        func(n int) int { return n + 1 },
		"duration":   runDuration,
		"ref":        builtRef,
	}
)

// ui returns the server's UI state, creating it on first use.
func (s *Server) ui() *uiState {
	s.uiOnce.Do(s.initUI)
	return s.uiSt
}

func (s *Server) initUI() {
	st := &uiState{key: make([]byte, 32), tmpl: map[string]*template.Template{}, events: newBroker()}
	if _, err := rand.Read(st.key); err != nil {
		panic("server: no randomness for the session key: " + err.Error())
	}
	for _, name := range uiPageFiles {
		st.tmpl[name] = template.Must(template.New("layout.html").Funcs(uiTemplateFn).ParseFS(webFS, "web/templates/layout.html", "web/templates/"+name+".html"))
	}
	s.uiSt = st
	s.OnRunChange(func(r *store.Run) {
		st.events.publish(liveEvent{Kind: "run", ID: r.ID, State: string(r.State), Trigger: r.Trigger, Delivery: r.DeliveryID})
	})
}

// deliveryRecorded tells the live UI that a delivery was committed.
func (s *Server) deliveryRecorded(d *store.Delivery) {
	s.ui().events.publish(liveEvent{Kind: "delivery", ID: d.ID})
}

func (s *Server) uiRoutes(mux *http.ServeMux) {
	s.ui()
	static, _ := fs.Sub(webFS, "web/static")
	files := http.StripPrefix("/ui/static/", http.FileServerFS(static))
	mux.Handle("GET /ui/static/", uiHeaders(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-cache")
		files.ServeHTTP(w, r)
	}))
	mux.HandleFunc("GET /ui", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/ui/", http.StatusSeeOther)
	})
	mux.Handle("GET /ui/login", uiHeaders(s.loginPage))
	mux.Handle("POST /ui/login", uiHeaders(s.login))
	mux.Handle("POST /ui/logout", s.uiPost(s.logout))
	mux.Handle("GET /ui/{$}", s.uiPage(s.dashboard))
	mux.Handle("GET /ui/events", s.uiPage(s.liveEvents))
	mux.Handle("GET /ui/deliveries/{id}", s.uiPage(s.deliveryPage))
	mux.Handle("POST /ui/deliveries/{id}/replay", s.uiPost(s.uiReplay))
	mux.Handle("GET /ui/runs/{id}", s.uiPage(s.runPage))
	mux.Handle("GET /ui/runs/{id}/log", s.uiPage(s.runLogEvents))
	mux.Handle("POST /ui/runs/{id}/cancel", s.uiPost(s.uiCancel))
	mux.Handle("GET /ui/triggers", s.uiPage(s.triggersPage))
	mux.Handle("/ui/", s.uiPage(func(w http.ResponseWriter, r *http.Request, sess *session) {
		s.uiError(w, r, sess, http.StatusNotFound, "There is no such page.")
	}))
}

// uiHeaders sets the headers every UI answer carries.
func uiHeaders(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		hd.Set("Content-Security-Policy", contentSecurityPolicy)
		hd.Set("X-Frame-Options", "DENY")
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("Referrer-Policy", "same-origin")
		hd.Set("Cache-Control", "no-store")
		h(w, r)
	}
}

// uiPage admits a signed-in browser (or, with no api_token, a loopback
// client, who gets a session on the fly so that forms carry CSRF tokens);
// others are sent to the sign-in page.
func (s *Server) uiPage(h func(http.ResponseWriter, *http.Request, *session)) http.Handler {
	return uiHeaders(func(w http.ResponseWriter, r *http.Request) {
		sess, ok := s.uiSession(w, r)
		if !ok {
			return
		}
		h(w, r, sess)
	})
}

// uiPost is uiPage for state-changing requests: the session's CSRF token
// must come back in the form field "csrf" or the X-CSRF-Token header.
func (s *Server) uiPost(h func(http.ResponseWriter, *http.Request, *session)) http.Handler {
	return s.uiPage(func(w http.ResponseWriter, r *http.Request, sess *session) {
		if !validCSRF(r, sess) {
			s.uiError(w, r, sess, http.StatusForbidden, "The form expired or did not come from this site. Reload the page and try again.")
			return
		}
		h(w, r, sess)
	})
}

func validCSRF(r *http.Request, sess *session) bool {
	given := r.Header.Get("X-CSRF-Token")
	if given == "" {
		r.Body = http.MaxBytesReader(nil, r.Body, 64<<10)
		given = r.PostFormValue("csrf")
	}
	return given != "" && subtle.ConstantTimeCompare([]byte(given), []byte(sess.csrf)) == 1
}

// uiSession finds the request's session. When it answers false it has
// already written the redirect or refusal.
func (s *Server) uiSession(w http.ResponseWriter, r *http.Request) (*session, bool) {
	if sess := s.lookupSession(r); sess != nil {
		return sess, true
	}
	if s.cfg.Load().APIToken == "" {
		if !isLoopback(remoteIP(r)) {
			http.Error(w, "Set api_token in the config to use the UI from other hosts.", http.StatusForbidden)
			return nil, false
		}
		return s.startSession(w, r), true
	}
	if strings.HasPrefix(r.URL.Path, "/ui/events") || strings.HasSuffix(r.URL.Path, "/log") || r.Header.Get("X-Requested-With") != "" {
		http.Error(w, "sign in first", http.StatusUnauthorized)
		return nil, false
	}
	next := ""
	if r.Method == http.MethodGet {
		next = "?next=" + url.QueryEscape(r.URL.RequestURI())
	}
	http.Redirect(w, r, "/ui/login"+next, http.StatusSeeOther)
	return nil, false
}

// sessionAuthorized reports whether r carries a valid UI session that may
// use the JSON API: any session for safe methods, and for the others only
// with the session's CSRF token in X-CSRF-Token.
func (s *Server) sessionAuthorized(r *http.Request) bool {
	sess := s.lookupSession(r)
	if sess == nil {
		return false
	}
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		return true
	}
	given := r.Header.Get("X-CSRF-Token")
	return given != "" && subtle.ConstantTimeCompare([]byte(given), []byte(sess.csrf)) == 1
}

// sessionKey is the key that signs session cookies: derived from api_token,
// or the process's random key when there is none (the UI then only admits
// loopback clients, and sessions only carry their CSRF tokens).
func (s *Server) sessionKey() []byte {
	token := s.cfg.Load().APIToken
	if token == "" {
		return s.ui().key
	}
	m := hmac.New(sha256.New, []byte(token))
	m.Write([]byte("hooktrigger UI session key v1"))
	return m.Sum(nil)
}

// sessionMAC signs a cookie's payload (nonce and expiry) under key.
func sessionMAC(key, payload []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte("session\x00"))
	m.Write(payload)
	return m.Sum(nil)
}

// newSession returns the session of nonce and expiry, its CSRF token
// derived from both under key.
func newSession(key, nonce []byte, expires time.Time) *session {
	m := hmac.New(sha256.New, key)
	m.Write([]byte("csrf\x00"))
	m.Write(nonce)
	return &session{nonce: nonce, expires: expires, csrf: hex.EncodeToString(m.Sum(nil))}
}

// Cookie values are "v1.<payload>.<mac>", both base64url: the payload is
// 32 random bytes and the expiry in Unix seconds (8 bytes, big-endian).
const (
	cookieVersion = "v1."
	nonceLen      = 32
)

// lookupSession returns the session of r's cookie when its signature holds
// under the current key, it has not expired and was not signed out; else
// nil. A store that cannot answer counts as signed out.
func (s *Server) lookupSession(r *http.Request) *session {
	c, err := r.Cookie(sessionCookie)
	if err != nil || !strings.HasPrefix(c.Value, cookieVersion) {
		return nil
	}
	p64, mac64, ok := strings.Cut(c.Value[len(cookieVersion):], ".")
	if !ok {
		return nil
	}
	payload, err1 := base64.RawURLEncoding.DecodeString(p64)
	mac, err2 := base64.RawURLEncoding.DecodeString(mac64)
	if err1 != nil || err2 != nil || len(payload) != nonceLen+8 {
		return nil
	}
	key := s.sessionKey()
	if !hmac.Equal(mac, sessionMAC(key, payload)) {
		return nil
	}
	expires := time.Unix(int64(binary.BigEndian.Uint64(payload[nonceLen:])), 0)
	if !time.Now().Before(expires) {
		return nil
	}
	sess := newSession(key, payload[:nonceLen], expires)
	revoked, err := s.store.SessionRevoked(r.Context(), sess.revocationID())
	if err != nil {
		s.rlog(r).Warn("UI session not checked: store unavailable", "err", err)
		return nil
	}
	if revoked {
		return nil
	}
	return sess
}

// startSession creates a session and sets its cookie.
func (s *Server) startSession(w http.ResponseWriter, r *http.Request) *session {
	payload := make([]byte, nonceLen+8)
	if _, err := rand.Read(payload[:nonceLen]); err != nil {
		panic("server: no randomness: " + err.Error())
	}
	expires := time.Now().Add(sessionTTL).Truncate(time.Second)
	binary.BigEndian.PutUint64(payload[nonceLen:], uint64(expires.Unix()))
	key := s.sessionKey()
	http.SetCookie(w, &http.Cookie{
		Name:  sessionCookie,
		Value: cookieVersion + base64.RawURLEncoding.EncodeToString(payload) + "." + base64.RawURLEncoding.EncodeToString(sessionMAC(key, payload)),
		Path:  "/", HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil,
		MaxAge: int(sessionTTL / time.Second),
	})
	return newSession(key, payload[:nonceLen], expires)
}

// endSession signs sess out on every instance and clears the cookie. It
// reports false when the store could not record it: the session then stays
// valid elsewhere until it expires.
func (s *Server) endSession(w http.ResponseWriter, r *http.Request, sess *session) bool {
	err := s.store.RevokeSession(r.Context(), sess.revocationID(), sess.expires)
	if err != nil {
		s.rlog(r).Error("UI sign-out not recorded", "err", err)
	}
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil})
	return err == nil
}

func randomToken() string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic("server: no randomness: " + err.Error())
	}
	return hex.EncodeToString(b)
}

// safeNext keeps a post-login redirect inside the UI.
func safeNext(next string) string {
	if !strings.HasPrefix(next, "/ui/") || strings.HasPrefix(next, "//") || strings.ContainsAny(next, "\\\r\n") {
		return "/ui/"
	}
	return next
}

func (s *Server) loginPage(w http.ResponseWriter, r *http.Request) {
	if s.cfg.Load().APIToken == "" || s.lookupSession(r) != nil {
		http.Redirect(w, r, "/ui/", http.StatusSeeOther)
		return
	}
	s.render(w, http.StatusOK, "login", page{Title: "Sign in", Data: loginView{Next: safeNext(r.URL.Query().Get("next"))}})
}

func (s *Server) login(w http.ResponseWriter, r *http.Request) {
	token := s.cfg.Load().APIToken
	if token == "" {
		http.Redirect(w, r, "/ui/", http.StatusSeeOther)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	given := r.PostFormValue("token")
	next := safeNext(r.PostFormValue("next"))
	if given == "" || subtle.ConstantTimeCompare([]byte(given), []byte(token)) != 1 {
		s.log.Info("UI sign-in refused", "remote", remoteIP(r))
		time.Sleep(250 * time.Millisecond) // slows guessing a little
		s.render(w, http.StatusUnauthorized, "login", page{Title: "Sign in", Data: loginView{Next: next, Failed: true}})
		return
	}
	s.startSession(w, r)
	http.Redirect(w, r, next, http.StatusSeeOther)
}

func (s *Server) logout(w http.ResponseWriter, r *http.Request, sess *session) {
	if !s.endSession(w, r, sess) {
		w.Header().Set("Retry-After", "5")
		s.uiError(w, r, nil, http.StatusServiceUnavailable, "This browser is signed out, but the store is unavailable and could not record it: a copy of the session's cookie stays valid until "+fmtTime(sess.expires)+".")
		return
	}
	http.Redirect(w, r, "/ui/login", http.StatusSeeOther)
}

// page is what every template gets.
type page struct {
	Title    string
	Nav      string
	CSRF     string
	SignOut  bool // a token is configured, so signing out means something
	Data     any
	Version  string
	Refresh  bool // the page has a #live region refreshed on events
	BodyAttr string
}

type loginView struct {
	Next   string
	Failed bool
}

func (s *Server) pageFor(sess *session, title, nav string, data any) page {
	p := page{Title: title, Nav: nav, Data: data, Version: s.Version, SignOut: s.cfg.Load().APIToken != ""}
	if sess != nil {
		p.CSRF = sess.csrf
	}
	return p
}

func (s *Server) render(w http.ResponseWriter, status int, name string, p page) {
	t := s.ui().tmpl[name]
	var buf strings.Builder
	if err := t.Execute(&buf, p); err != nil {
		s.log.Error("UI template failed", "page", name, "err", err)
		http.Error(w, "the page could not be rendered", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(buf.String()))
}

func (s *Server) uiError(w http.ResponseWriter, r *http.Request, sess *session, status int, msg string) {
	s.render(w, status, "error", s.pageFor(sess, http.StatusText(status), "", msg))
}

// uiStoreError shows a store error as a page.
func (s *Server) uiStoreError(w http.ResponseWriter, r *http.Request, sess *session, err error) {
	if errorsIsNotFound(err) {
		s.uiError(w, r, sess, http.StatusNotFound, "Not found: it may have been pruned.")
		return
	}
	s.log.Error("store error", "err", err)
	w.Header().Set("Retry-After", "5")
	s.uiError(w, r, sess, http.StatusServiceUnavailable, "The store is unavailable; try again shortly.")
}

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return t.UTC().Format("2006-01-02 15:04:05Z")
}
