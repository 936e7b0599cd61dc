package ast

import (
	"slices"
	"strings"
	"time"
)

// System is a whole distributed system: the unit that Tycho compiles, starts,
// tracks by a GUID and deletes.
type System struct {
	// Name is the compose project name, already a valid DNS-1123 label.
	Name string
	Pos  Pos
	// GUID identifies a started system (32 lowercase hex characters); empty
	// when compiling without one.
	GUID string
	// Namespace is where the system's objects live; empty means the
	// backend's default.
	Namespace string
	// CreateNamespace asks the backend to emit the Namespace itself.
	CreateNamespace bool
	// User is who started the system (the API's principal), labelling
	// its objects; empty for none. Unlike Labels, no compose file sets it.
	User string

	Services []*Service // sorted by Name
	Volumes  []*Volume  // sorted by Name
	Networks []*Network // sorted by Name
	Secrets  []*Secret  // sorted by Name
	Configs  []*Config  // sorted by Name

	// Labels are added to every object of the system (from x-tycho.labels).
	Labels []KV
	// Annotations are added to every object of the system.
	Annotations []KV

	// Policy holds the decisions of the policy weavers.
	Policy Policy
}

// Service returns the service called name, or nil. Services are sorted by
// name, so this is a binary search.
func (s *System) Service(name string) *Service {
	return find(s.Services, name, func(v *Service) string { return v.Name })
}

// Volume returns the volume called name, or nil (Volumes sorted by name).
func (s *System) Volume(name string) *Volume {
	return find(s.Volumes, name, func(v *Volume) string { return v.Name })
}

// Network returns the network called name, or nil (Networks sorted by
// name).
func (s *System) Network(name string) *Network {
	return find(s.Networks, name, func(v *Network) string { return v.Name })
}

func find[T any](list []*T, name string, key func(*T) string) *T {
	i, ok := slices.BinarySearchFunc(list, name, func(v *T, n string) int { return strings.Compare(key(v), n) })
	if !ok {
		return nil
	}
	return list[i]
}

// KV is a key and a value, used where order must be stable.
type KV struct {
	Key   string
	Value string
	Pos   Pos
}

// Lifecycle says how a service's containers run.
type Lifecycle int

const (
	// LongRunning services are kept running with the requested replicas.
	LongRunning Lifecycle = iota
	// Global services run one replica on every node.
	Global
	// RunToCompletion services run until they exit successfully
	// (compose restart "no" or "on-failure").
	RunToCompletion
)

// String names the lifecycle.
func (l Lifecycle) String() string {
	switch l {
	case Global:
		return "global"
	case RunToCompletion:
		return "run-to-completion"
	default:
		return "long-running"
	}
}

// Service is one compose service: a replicated container with its storage,
// network identity and dependencies.
type Service struct {
	Name string
	Pos  Pos

	Lifecycle Lifecycle
	// Replicas is the wanted number of replicas; nil means one.
	Replicas *int32
	// MaxAttempts bounds the retries of a RunToCompletion service; nil
	// means the backend's default.
	MaxAttempts *int32
	// RestartOnFailure is true for compose restart "on-failure": a failed
	// run-to-completion container is restarted in place.
	RestartOnFailure bool

	Container Container

	Ports   []Port // from ports: and expose:, in source order
	Aliases []Alias
	// Networks the service is attached to, sorted by name; a service
	// without networks: is on "default".
	Networks []NetworkAttachment
	// NetworkMode is compose's network_mode ("", "host", "none",
	// "service:<name>").
	NetworkMode    string
	NetworkModePos Pos

	Mounts    []Mount
	Secrets   []FileRef
	Configs   []FileRef
	EnvFiles  []EnvFile
	DependsOn []Dependency

	Health *Health

	Resources Resources

	// Annotations come from compose labels.
	Annotations []KV
	ExtraHosts  []HostAlias
	DNS         DNS
	Sysctls     []KV
	// ShmSize is the size of /dev/shm in bytes; 0 means the default.
	ShmSize    int64
	ShmSizePos Pos

	// Expose says how published ports are reached from outside.
	Expose    ExposeMode
	ExposePos Pos
	// Clients are the CIDRs allowed to reach published ports; empty
	// means anyone.
	Clients []CIDR
	// Egress limits where the service may connect outside the system;
	// nil means anywhere.
	Egress []EgressRule
	// Liveness asks for a liveness check made from the healthcheck.
	Liveness bool
	// ServiceAccount names the identity the service runs as; empty means
	// none.
	ServiceAccount string

	// Update says how new replicas replace the running ones when the
	// service changes; nil keeps the orchestrator's default.
	Update *UpdateStrategy
	// Placement restricts the nodes the replicas run on and spreads them.
	Placement Placement
}

// UpdateOrder says whether an old replica stops before or after its
// replacement starts.
type UpdateOrder string

// Update orders, as compose names them.
const (
	StopFirst  UpdateOrder = "stop-first"
	StartFirst UpdateOrder = "start-first"
)

// UpdateStrategy is a rolling update: replicas are replaced in batches.
type UpdateStrategy struct {
	// Parallelism is how many replicas are replaced at a time; 0 replaces
	// all of them at once.
	Parallelism uint64
	Order       UpdateOrder
	// Delay is the wait after a batch is running before the next one is
	// replaced.
	Delay time.Duration
	// Monitor is how long a new replica is watched for failure after it
	// starts.
	Monitor time.Duration
	Pos     Pos
}

// Placement says which nodes may run a service's replicas and how the
// replicas are spread over them.
type Placement struct {
	// Constraints every node must meet, in source order.
	Constraints []Constraint
	// Spread names node labels over whose values the replicas are spread
	// evenly, as a preference, in source order.
	Spread []Spread
	// MaxPerNode bounds the replicas of the service on one node; 0 is no
	// bound.
	MaxPerNode    uint64
	MaxPerNodePos Pos
}

// NodeProperty is what a placement constraint compares.
type NodeProperty string

// Node properties. OS and architecture values are those of the OCI image
// platform (GOOS and GOARCH names: linux, amd64, arm64).
const (
	NodeLabel    NodeProperty = "label"
	NodeHostname NodeProperty = "hostname"
	NodeOS       NodeProperty = "os"
	NodeArch     NodeProperty = "arch"
	// NodeRole is "manager" for nodes that run the orchestrator's control
	// plane, "worker" for the others.
	NodeRole NodeProperty = "role"
)

// Constraint is a condition on a node: its property equals Value, or
// differs from it when Not is set.
type Constraint struct {
	Property NodeProperty
	// Label names the node label when Property is NodeLabel.
	Label string
	Not   bool
	Value string
	Pos   Pos
}

// Spread spreads replicas over the values of a node label.
type Spread struct {
	Label string
	Pos   Pos
}

// Hook is a command run inside a running container at a point of its
// life.
type Hook struct {
	// Exec is the argv to run (not through a shell unless it says so).
	Exec []string
	Pos  Pos
}

// ExposeMode says how published ports are reached from outside the
// system.
type ExposeMode string

// Expose modes.
const (
	ExposeDefault      ExposeMode = ""
	ExposeLoadBalancer ExposeMode = "loadbalancer"
	ExposeNodePort     ExposeMode = "nodeport"
	ExposeClusterIP    ExposeMode = "clusterip"
	// ExposeIngress and ExposeGateway reach the ports that speak HTTP
	// through the cluster's HTTP router (an Ingress rule or a Gateway API
	// route, see Port.Route); the other published ports are load
	// balanced.
	ExposeIngress ExposeMode = "ingress"
	ExposeGateway ExposeMode = "gateway"
)

// Routed reports whether m reaches HTTP ports through a router.
func (m ExposeMode) Routed() bool { return m == ExposeIngress || m == ExposeGateway }

// CIDR is an IP network written as a string ("10.0.0.0/8").
type CIDR struct {
	CIDR string
	Pos  Pos
}

// EgressRule allows connections to a CIDR, on some ports or all.
type EgressRule struct {
	CIDR  string
	Ports []PortRange
	Pos   Pos
}

// PortRange is a port or a range of ports on one protocol.
type PortRange struct {
	Port     uint16
	EndPort  uint16 // 0 for a single port
	Protocol Protocol
}

// Container is the process a service runs.
type Container struct {
	Image    string
	ImagePos Pos
	// ImageToBuild is true when the image comes from compose build: and
	// must be built and pushed by the user.
	ImageToBuild bool
	PullPolicy   PullPolicy

	// Entrypoint replaces the image's entrypoint; nil keeps it.
	Entrypoint []string
	// Command replaces the image's command; nil keeps it.
	Command    []string
	WorkingDir string
	Env        []EnvVar // sorted by name
	Hostname   string
	TTY        bool
	Stdin      bool
	// StopGracePeriod is how long the container gets to stop; nil keeps
	// the default.
	StopGracePeriod *time.Duration
	// PostStart runs once the container has started; nil is none.
	PostStart *Hook
	// PreStop runs before the container is stopped; nil is none.
	PreStop *Hook

	Security Security
}

// PullPolicy says when an image is pulled.
type PullPolicy string

// Pull policies.
const (
	PullDefault      PullPolicy = ""
	PullAlways       PullPolicy = "always"
	PullIfNotPresent PullPolicy = "if-not-present"
	PullNever        PullPolicy = "never"
)

// Security is what a container may do. Pointers are nil where the compose
// file said nothing and no weaver decided.
type Security struct {
	RunAsUser      *int64
	RunAsGroup     *int64
	UserPos        Pos
	Privileged     bool
	PrivPos        Pos
	CapAdd         []string
	CapDrop        []string
	CapPos         Pos
	ReadOnlyRootFS bool
	// Init runs a minimal init process as PID 1 (compose init: true).
	Init    bool
	InitPos Pos
	// SupplementalGroups are extra group IDs of the container's processes.
	SupplementalGroups []int64
	GroupsPos          Pos

	// Decided by the security weaver.
	AllowPrivilegeEscalation *bool
	RunAsNonRoot             *bool
	SeccompRuntimeDefault    bool
	DropAllCapabilities      bool
	AutomountToken           *bool
	// HostNetwork, HostPID and HostIPC share the node's namespaces; the
	// positions are of the pid and ipc keys.
	HostNetwork bool
	HostPID     bool
	HostIPC     bool
	HostPIDPos  Pos
	HostIPCPos  Pos
}

// EnvVar is one environment variable.
type EnvVar struct {
	Name  string
	Value string
	Pos   Pos
}

// EnvFile is a file of environment variables read at compile time.
type EnvFile struct {
	// Name identifies the file's variables within the system.
	Name string
	Path string
	Vars []EnvVar // sorted by name
	Pos  Pos
}

// Protocol is a transport protocol.
type Protocol string

// Protocols.
const (
	TCP  Protocol = "tcp"
	UDP  Protocol = "udp"
	SCTP Protocol = "sctp"
)

// Port is a port a container listens on, maybe published outside.
type Port struct {
	Name     string // compose long-syntax name, may be empty
	Target   uint16
	Protocol Protocol
	// AppProtocol is the application protocol (app_protocol), e.g. http.
	AppProtocol string
	// Published is the port outside the system; 0 when not published.
	Published uint16
	// Declared by expose: (reachable inside only).
	Exposed bool
	// Route is where the published port is reached through the cluster's
	// HTTP router; nil when it is not routed.
	Route *Route
	Pos   Pos
}

// Alias is another DNS name of a service (network alias, link alias or
// container_name).
type Alias struct {
	Name string
	// Network is the network a network alias is on; empty for a name the
	// service holds on all its networks (container_name, links).
	Network string
	Pos     Pos
}

// NetworkAttachment joins a service to a network.
type NetworkAttachment struct {
	Network string
	Pos     Pos
}

// Network is a compose network: the set of services that may reach each
// other.
type Network struct {
	Name string
	Pos  Pos
	// Internal networks have no route outside.
	Internal bool
	External bool
}

// MountKind is the kind of storage behind a mount.
type MountKind int

// Mount kinds.
const (
	// MountVolume is a named volume of the system.
	MountVolume MountKind = iota
	// MountBindFile and MountBindDir copy a small host file or directory
	// into the system at compile time.
	MountBindFile
	MountBindDir
	// MountHostPath keeps a host path of the node.
	MountHostPath
	// MountScratch is empty storage that lives as long as the pod
	// (anonymous volumes and unusable bind mounts).
	MountScratch
	// MountMemory is RAM-backed scratch storage (tmpfs).
	MountMemory
)

// Mount places storage at a path in the container.
type Mount struct {
	Kind     MountKind
	Source   string // volume name, host path or content name
	Target   string
	ReadOnly bool
	// SizeLimit in bytes for scratch and memory mounts; 0 is none.
	SizeLimit int64
	// Files is the content of a bind-mounted file or directory, sorted
	// by name (for MountBindDir the file names are relative).
	Files []File
	// ContentName names the bundle of files (unique in the system).
	ContentName string
	Pos         Pos
}

// File is a named blob of content.
type File struct {
	Name string
	Data []byte
}

// Volume is a named volume: storage that outlives its containers.
type Volume struct {
	Name string
	Pos  Pos
	// External volumes exist already and are referred to by ExternalName.
	External     bool
	ExternalName string
	// Size in bytes.
	Size         int64
	StorageClass string
	// Shared is true when several services mount it.
	Shared bool
	// ReadWriteMany asks for storage that many nodes can write at once.
	ReadWriteMany bool
	// Populate copies the image's content at the mount path into an
	// empty volume on first use, as docker does.
	Populate bool
}

// Secret is sensitive data mounted into containers as files.
type Secret struct {
	Name string
	Pos  Pos
	// External secrets exist already and are referred to by ExternalName.
	External     bool
	ExternalName string
	// Provided says why the system refers to the secret without holding
	// its value ("" when it holds it in Data).
	Provided Provided
	// Source is where the value comes from, so that the user can be told
	// how to provide it.
	Source Source
	Data   []byte
}

// Config is non-sensitive data mounted into containers as files.
type Config struct {
	Name         string
	Pos          Pos
	External     bool
	ExternalName string
	// Provided and Source are as for a Secret; configs are only ever
	// provided when their variable is unset.
	Provided Provided
	Source   Source
	Data     []byte
}

// Provided says why a system refers to a secret or config that it does not
// hold: the user creates it where the system runs, under the name and key
// the system would have given it, before the system starts. Its workloads
// are the same either way.
type Provided string

// Reasons to refer to a secret or config instead of holding it.
const (
	// ProvidedUnset: its environment variable was not set at compile time.
	ProvidedUnset Provided = "unset"
	// ProvidedOnRequest: the user asked that no secret value be written
	// to the output.
	ProvidedOnRequest Provided = "request"
)

// Source is where the content of a secret or config comes from, as the
// compose file says: exactly one of File, Variable and Content is set.
type Source struct {
	// File is the path of file:, as the user would type it where Tycho
	// ran (relative to the working directory when it lies below it).
	File string
	// Variable is the name of the environment variable of environment:.
	Variable string
	// Content is true for content: (the value is in the compose file).
	Content bool
	// Pos is that of the key (file, environment or content).
	Pos Pos
}

// FileRef mounts a secret or config at a path.
type FileRef struct {
	Name   string // of the Secret or Config
	Target string // absolute path in the container
	Mode   *int32
	Pos    Pos
}

// Condition is what a dependent waits for.
type Condition string

// Dependency conditions, as compose names them.
const (
	ServiceStarted               Condition = "service_started"
	ServiceHealthy               Condition = "service_healthy"
	ServiceCompletedSuccessfully Condition = "service_completed_successfully"
)

// Dependency makes a service wait for another before it starts.
type Dependency struct {
	Service   string
	Condition Condition
	// Required is false when the dependency may be missing.
	Required bool
	Pos      Pos
}

// Health is how the system knows a service is healthy.
type Health struct {
	// Exec is an argv to run in the container; a shell command is
	// already wrapped in ["sh", "-c", ...].
	Exec          []string
	Interval      time.Duration
	Timeout       time.Duration
	Retries       int32
	StartPeriod   time.Duration
	StartInterval time.Duration
	Pos           Pos
}

// Resources are the compute a container may use and reserves.
type Resources struct {
	CPULimitMilli   int64
	CPURequestMilli int64
	MemoryLimit     int64 // bytes
	MemoryRequest   int64 // bytes
	Pids            int64
	// DiskLimit bounds in bytes what the container writes to its own
	// filesystem; 0 is none.
	DiskLimit int64
	GPUs      int64
	// GPUVendor makes the GPUs: "nvidia" (also when empty) or "amd".
	GPUVendor string
	Pos       Pos
}

// HostAlias resolves hostnames to an IP in the container.
type HostAlias struct {
	IP        string
	Hostnames []string
	Pos       Pos
}

// DNS configures the container's resolver.
type DNS struct {
	Nameservers []string
	Searches    []string
	Options     []KV // Value empty for flag options
	Pos         Pos
}

// Policy holds the decisions of the policy weavers.
type Policy struct {
	// Network is nil when no network policy is wanted.
	Network *NetworkPolicy
	// SecurityLevel is the Pod Security level the system meets
	// ("privileged", "baseline", "restricted"), empty when unknown.
	SecurityLevel string
}

// NetworkPolicy is the set of allowed connections of the system, as
// abstract rules: everything not allowed is denied.
type NetworkPolicy struct {
	// Rules, one per service that receives or sends traffic, sorted by
	// service name.
	Rules []ServiceRules
}

// ServiceRules says who may connect to a service and where it may connect.
type ServiceRules struct {
	Service string
	// Networks the service's pods are members of, for peers that select
	// by network (sorted).
	Networks []string
	// Ingress: peers allowed in.
	Ingress []Flow
	// Egress: nil means unrestricted; otherwise the allowed peers.
	Egress []Flow
	// EgressRestricted is true when Egress is a closed list.
	EgressRestricted bool
}

// Peer is the other end of a flow.
type Peer struct {
	// Services of this system (by name); empty with CIDRs or Anywhere.
	Services []string
	// Networks: every service of this system on one of these networks.
	Networks []string
	// CIDRs outside the system.
	CIDRs []string
	// Anywhere is any address, inside or outside the cluster.
	Anywhere bool
	// ClusterDNS is the cluster's DNS service.
	ClusterDNS bool
	// Pods are pods of the cluster outside the system (the HTTP router's).
	Pods *PodSelector
}

// Flow allows traffic with a peer on some ports (all ports when empty).
type Flow struct {
	Peer  Peer
	Ports []PortRange
}

// NetworkOwner follows network_mode "service:X" to the service whose
// network s shares (s itself when it has its own); a chain is followed to
// its end, and a cycle or a missing service yields nil.
func (s *System) NetworkOwner(svc *Service) *Service {
	seen := map[string]bool{}
	for cur := svc; cur != nil; {
		if seen[cur.Name] {
			return nil
		}
		seen[cur.Name] = true
		t, ok := strings.CutPrefix(cur.NetworkMode, "service:")
		if !ok {
			return cur
		}
		cur = s.Service(t)
	}
	return nil
}
