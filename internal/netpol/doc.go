// Package netpol evaluates Kubernetes NetworkPolicy semantics over typed
// objects, without a cluster: given the NetworkPolicies of a system and its
// pods (the pod template labels of its workloads), it answers whether one
// endpoint may open a connection to another on a port.
//
// It is test support: it lets tests check what generated policies allow
// against what the compose file meant, flow by flow, where a golden file
// only shows what the policies say. The semantics follow the
// networking.k8s.io/v1 API documentation:
//
//   - a pod is isolated for ingress (egress) when at least one policy of its
//     namespace selects it and lists Ingress (Egress) in its policyTypes
//     (defaulted as the API server does: Ingress always, Egress when the
//     policy has egress rules);
//   - a connection is allowed when the source's egress allows it (or the
//     source is not isolated for egress) and the destination's ingress
//     allows it (or the destination is not isolated for ingress);
//   - rules of all selecting policies are a union; within a rule the peer
//     and the port must both match; an empty peer list matches every peer
//     and an empty port list every port;
//   - a peer with only a podSelector selects pods of the policy's
//     namespace; with a namespaceSelector, pods of the matching namespaces
//     (all of their pods when the podSelector is absent); an empty selector
//     matches everything, an absent one is not a condition;
//   - an ipBlock matches addresses in its CIDR and none of its excepts; it
//     matches a pod only when the pod's IP is given;
//   - a port without protocol is TCP, a rule port without a number matches
//     every port of its protocol, endPort makes a range. Named ports are not
//     resolved: they match nothing.
//
// Not modelled: traffic from a pod's own node (always allowed by
// Kubernetes), host-network pods (which most network plugins do not
// police), Services (policies see pod addresses after DNAT, so a test asks
// about the pod port, i.e. the Service's targetPort).
package netpol
