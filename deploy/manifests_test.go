// Package deploy holds what an operator deploys: the container image
// definition, the Kubernetes manifests, the Grafana dashboard and the
// Prometheus alert rules. It is a module of its own so that the Kubernetes
// libraries its tests need never become the server's dependencies; its only
// code is this test, which CI runs (.ci/run).
package deploy

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"
)

// kustomizations are the directories kubectl apply -k takes.
var kustomizations = []string{"kubernetes/base", "kubernetes/two-replicas-redis"}

// rendered is one kustomization's output, each object decoded strictly
// into its API type.
type rendered struct {
	deployments []*appsv1.Deployment
	services    []*corev1.Service
	configMaps  []*corev1.ConfigMap
	accounts    []*corev1.ServiceAccount
	pdbs        []*policyv1.PodDisruptionBudget
	hpas        []*autoscalingv2.HorizontalPodAutoscaler
}

// render builds dir as `kubectl apply -k` would (kustomize's own library)
// and decodes every object with unknown fields refused: a misspelt or
// misplaced field fails here rather than being dropped by the API server.
func render(t *testing.T, dir string) *rendered {
	t.Helper()
	m, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(filesys.MakeFsOnDisk(), dir)
	if err != nil {
		t.Fatalf("kustomize build %s: %v", dir, err)
	}
	r := &rendered{}
	for _, res := range m.Resources() {
		b, err := res.AsYAML()
		if err != nil {
			t.Fatal(err)
		}
		var into any
		switch kind := res.GetKind(); kind {
		case "Deployment":
			d := &appsv1.Deployment{}
			r.deployments, into = append(r.deployments, d), d
		case "Service":
			s := &corev1.Service{}
			r.services, into = append(r.services, s), s
		case "ConfigMap":
			c := &corev1.ConfigMap{}
			r.configMaps, into = append(r.configMaps, c), c
		case "ServiceAccount":
			a := &corev1.ServiceAccount{}
			r.accounts, into = append(r.accounts, a), a
		case "PodDisruptionBudget":
			p := &policyv1.PodDisruptionBudget{}
			r.pdbs, into = append(r.pdbs, p), p
		case "HorizontalPodAutoscaler":
			h := &autoscalingv2.HorizontalPodAutoscaler{}
			r.hpas, into = append(r.hpas, h), h
		default:
			t.Fatalf("%s: %s %s: a kind this test does not decode; add it", dir, kind, res.GetName())
		}
		if err := yaml.UnmarshalStrict(b, into); err != nil {
			t.Fatalf("%s: %s %s does not decode strictly: %v\n%s", dir, res.GetKind(), res.GetName(), err, b)
		}
	}
	return r
}

func (r *rendered) deployment(t *testing.T, name string) *appsv1.Deployment {
	t.Helper()
	for _, d := range r.deployments {
		if d.Name == name {
			return d
		}
	}
	t.Fatalf("no Deployment %s", name)
	return nil
}

// env is the container's environment: its env values and the keys of the
// ConfigMaps it reads, the ConfigMaps found in r by name.
func (r *rendered) env(t *testing.T, c corev1.Container) map[string]corev1.EnvVar {
	t.Helper()
	out := map[string]corev1.EnvVar{}
	for _, from := range c.EnvFrom {
		if from.ConfigMapRef == nil {
			t.Fatalf("envFrom other than a ConfigMap: %+v", from)
		}
		i := slices.IndexFunc(r.configMaps, func(cm *corev1.ConfigMap) bool { return cm.Name == from.ConfigMapRef.Name })
		if i < 0 {
			t.Fatalf("envFrom names ConfigMap %s, which is not rendered", from.ConfigMapRef.Name)
		}
		for k, v := range r.configMaps[i].Data {
			out[k] = corev1.EnvVar{Name: k, Value: v}
		}
	}
	for _, e := range c.Env {
		out[e.Name] = e // env wins over envFrom, as in Kubernetes
	}
	return out
}

// settings are the SALESGRAPH_* variables salesgraph reads, from the
// operators' settings table, docs/operators/configuration.md (which
// config's TestConfigurationTableIsTheFlags keeps equal to the flags).
func settings(t *testing.T) map[string]bool {
	t.Helper()
	b, err := os.ReadFile("../docs/operators/configuration.md")
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{}
	for _, m := range regexp.MustCompile("(?m)^\\| `-[a-z0-9-]+` \\| `(SALESGRAPH_[A-Z0-9_]+)` \\|").FindAllStringSubmatch(string(b), -1) {
		out[m[1]] = true
	}
	if len(out) < 50 {
		t.Fatalf("found %d settings in docs/operators/configuration.md's table; has its form changed?", len(out))
	}
	return out
}

// imageUser is the numeric USER of the image (deploy/Containerfile).
func imageUser(t *testing.T) int64 {
	t.Helper()
	b, err := os.ReadFile("Containerfile")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^USER (\d+):(\d+)$`).FindSubmatch(b)
	if m == nil {
		t.Fatal("Containerfile: no numeric USER uid:gid")
	}
	uid, _ := strconv.ParseInt(string(m[1]), 10, 64)
	return uid
}

func duration(t *testing.T, env map[string]corev1.EnvVar, name string) time.Duration {
	t.Helper()
	e, ok := env[name]
	if !ok {
		t.Fatalf("%s is not set: the grace period cannot be checked against it", name)
	}
	d, err := time.ParseDuration(e.Value)
	if err != nil {
		t.Fatalf("%s=%q: %v", name, e.Value, err)
	}
	return d
}

// TestManifests renders each kustomization and checks what salesgraph
// needs of its Deployment and the objects around it.
func TestManifests(t *testing.T) {
	known := settings(t)
	uid := imageUser(t)
	for _, dir := range kustomizations {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			r := render(t, dir)
			d := r.deployment(t, "salesgraph")
			pod := d.Spec.Template.Spec
			if len(pod.Containers) != 1 {
				t.Fatalf("%d containers, want 1", len(pod.Containers))
			}
			c := pod.Containers[0]
			env := r.env(t, c)

			for name, e := range env {
				if strings.HasPrefix(name, "SALESGRAPH_") && !known[name] {
					t.Errorf("%s is no setting of salesgraph's, which would refuse to start", name)
				}
				if e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil && e.ValueFrom.SecretKeyRef.Name != "salesgraph" {
					t.Errorf("%s comes from Secret %s; every secret is in the Secret salesgraph", name, e.ValueFrom.SecretKeyRef.Name)
				}
			}
			for _, secret := range []string{"SALESGRAPH_CURSOR_SECRET", "SALESGRAPH_UPSTREAM_AUTHORIZATION", "SALESGRAPH_CACHE_KEY_SECRET", "SALESGRAPH_REDIS_URL"} {
				if e, ok := env[secret]; ok && (e.ValueFrom == nil || e.ValueFrom.SecretKeyRef == nil) {
					t.Errorf("%s is written in the manifest; it belongs in the Secret", secret)
				}
			}
			if env["SALESGRAPH_UPSTREAM_URL"].Value == "" {
				t.Error("SALESGRAPH_UPSTREAM_URL is empty: the pods would serve demo mode's fake data")
			}

			// Probes: on the metrics listener, which the connection cap does
			// not count.
			ports := map[string]int32{}
			for _, p := range c.Ports {
				ports[p.Name] = p.ContainerPort
			}
			if got, want := env["SALESGRAPH_METRICS_ADDR"].Value, fmt.Sprintf(":%d", ports["metrics"]); got != want {
				t.Errorf("SALESGRAPH_METRICS_ADDR=%q, but the metrics port is %s", got, want)
			}
			if got, want := env["SALESGRAPH_LISTEN_ADDR"].Value, fmt.Sprintf(":%d", ports["http"]); got != want {
				t.Errorf("SALESGRAPH_LISTEN_ADDR=%q, but the http port is %s", got, want)
			}
			for probe, want := range map[*corev1.Probe]string{c.ReadinessProbe: "/readyz", c.LivenessProbe: "/healthz"} {
				if probe == nil || probe.HTTPGet == nil || probe.HTTPGet.Path != want || probe.HTTPGet.Port.String() != "metrics" {
					t.Errorf("want an HTTP probe of %s on the metrics port, got %+v", want, probe)
				}
			}

			// The drain must finish before the kubelet's SIGKILL.
			grace := time.Duration(*pod.TerminationGracePeriodSeconds) * time.Second
			need := duration(t, env, "SALESGRAPH_SHUTDOWN_DELAY") + duration(t, env, "SALESGRAPH_SHUTDOWN_TIMEOUT") + 2*time.Second
			if grace <= need {
				t.Errorf("terminationGracePeriodSeconds %v does not outlast shutdown-delay + shutdown-timeout + 2 s = %v", grace, need)
			}

			// Non-root, read-only, nothing more than it needs.
			psc, sc := pod.SecurityContext, c.SecurityContext
			switch {
			case psc == nil || psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot:
				t.Error("the pod may run as root")
			case psc.RunAsUser == nil || *psc.RunAsUser != uid:
				t.Errorf("runAsUser is not the image's user %d", uid)
			case sc == nil || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem:
				t.Error("the root filesystem is writable")
			case sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation:
				t.Error("privilege escalation is allowed")
			case sc.Capabilities == nil || !slices.Contains(sc.Capabilities.Drop, "ALL"):
				t.Error("capabilities are not all dropped")
			case pod.AutomountServiceAccountToken == nil || *pod.AutomountServiceAccountToken:
				t.Error("a service account token is mounted, for a process that calls no Kubernetes API")
			}

			// Memory: requested, limited, and the Go heap's soft limit below
			// the hard one.
			req, lim := c.Resources.Requests[corev1.ResourceMemory], c.Resources.Limits[corev1.ResourceMemory]
			if req.IsZero() || lim.IsZero() || req.Cmp(lim) > 0 {
				t.Errorf("memory request %v and limit %v", req.String(), lim.String())
			}
			goMem := strings.TrimSuffix(env["GOMEMLIMIT"].Value, "iB") + "i" // Go's MiB is Kubernetes' Mi
			if q, err := resource.ParseQuantity(goMem); err != nil || q.Cmp(lim) >= 0 || q.Cmp(req) <= 0 {
				t.Errorf("GOMEMLIMIT=%q must lie between the memory request %v and limit %v", env["GOMEMLIMIT"].Value, req.String(), lim.String())
			}

			// The objects around it select its pods and agree with it.
			podLabels := labels.Set(d.Spec.Template.Labels)
			sel := labels.SelectorFromSet(d.Spec.Selector.MatchLabels)
			if !sel.Matches(podLabels) || sel.Empty() {
				t.Errorf("the Deployment's selector %v does not select its pods %v", sel, podLabels)
			}
			if len(r.pdbs) != 1 || !labels.SelectorFromSet(r.pdbs[0].Spec.Selector.MatchLabels).Matches(podLabels) || len(r.pdbs[0].Spec.Selector.MatchLabels) == 0 {
				t.Error("no PodDisruptionBudget selects the pods")
			}
			svc := slices.IndexFunc(r.services, func(s *corev1.Service) bool { return s.Name == "salesgraph" })
			if svc < 0 || len(r.services[svc].Spec.Selector) == 0 || !labels.SelectorFromSet(r.services[svc].Spec.Selector).Matches(podLabels) {
				t.Fatal("the Service salesgraph does not select the pods")
			}
			for _, p := range r.services[svc].Spec.Ports {
				if _, ok := ports[p.TargetPort.String()]; !ok {
					t.Errorf("Service port %s targets %s, which the container does not name", p.Name, p.TargetPort.String())
				}
			}
			if len(r.hpas) != 1 {
				t.Fatalf("%d HorizontalPodAutoscalers, want 1", len(r.hpas))
			}
			hpa := r.hpas[0]
			if hpa.Spec.ScaleTargetRef.Kind != "Deployment" || hpa.Spec.ScaleTargetRef.Name != d.Name {
				t.Errorf("the autoscaler scales %s %s", hpa.Spec.ScaleTargetRef.Kind, hpa.Spec.ScaleTargetRef.Name)
			}
			if got := env["SALESGRAPH_REPLICAS"].Value; got != strconv.Itoa(int(hpa.Spec.MaxReplicas)) {
				t.Errorf("SALESGRAPH_REPLICAS=%s, but the autoscaler runs up to %d: during a Redis outage the replicas would together exceed the upstream rate limit", got, hpa.Spec.MaxReplicas)
			}
			if d.Spec.Replicas != nil {
				t.Error("the Deployment sets replicas, which every apply would reset under the autoscaler")
			}
			if hpa.Spec.MinReplicas == nil || *hpa.Spec.MinReplicas < 2 {
				t.Error("fewer than two replicas: the PodDisruptionBudget would block every drain, or one pod would take the service down")
			}
			if slices.IndexFunc(r.accounts, func(a *corev1.ServiceAccount) bool { return a.Name == pod.ServiceAccountName }) < 0 {
				t.Errorf("no ServiceAccount %s", pod.ServiceAccountName)
			}
		})
	}
}

// TestTwoReplicasWithRedis: the overlay shares through Redis, both secrets
// required, and runs its Redis non-root too.
func TestTwoReplicasWithRedis(t *testing.T) {
	r := render(t, "kubernetes/two-replicas-redis")
	d := r.deployment(t, "salesgraph")
	env := r.env(t, d.Spec.Template.Spec.Containers[0])
	for _, name := range []string{"SALESGRAPH_REDIS_URL", "SALESGRAPH_CACHE_KEY_SECRET"} {
		e, ok := env[name]
		if !ok || e.ValueFrom == nil || e.ValueFrom.SecretKeyRef == nil {
			t.Fatalf("%s is not read from the Secret", name)
		}
		if o := e.ValueFrom.SecretKeyRef.Optional; o != nil && *o {
			t.Errorf("%s is optional: a replica without it would not share", name)
		}
	}
	if env["SALESGRAPH_CACHE_TTL"].Value == "" {
		t.Error("the cache is off: the replicas would share nothing but the rate limit")
	}
	if min, max := *r.hpas[0].Spec.MinReplicas, r.hpas[0].Spec.MaxReplicas; min != 2 || max != 2 {
		t.Errorf("%d to %d replicas, want 2", min, max)
	}
	redis := r.deployment(t, "salesgraph-redis")
	if sc := redis.Spec.Template.Spec.SecurityContext; sc == nil || sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot {
		t.Error("Redis may run as root")
	}
	if labels.SelectorFromSet(d.Spec.Selector.MatchLabels).Matches(labels.Set(redis.Spec.Template.Labels)) {
		t.Error("salesgraph's selector also selects the Redis pod")
	}
}
