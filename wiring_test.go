package main

import (
	"reflect"
	"testing"

	"github.com/salesgraph/salesgraph/config"
)

// TestReplicaOptionsCarryEveryField: replicaOptions copies every field of
// config.Replicas into the replicas.Options field of the same name, and
// replicas.Options has no field the configuration does not set, so that a
// setting added to one and not the other fails here rather than being
// silently left at zero.
func TestReplicaOptionsCarryEveryField(t *testing.T) {
	var in config.Replicas
	v := reflect.ValueOf(&in).Elem()
	for i := range v.NumField() {
		f := v.Field(i)
		switch f.Kind() {
		case reflect.String:
			f.SetString("value of " + v.Type().Field(i).Name)
		case reflect.Int, reflect.Int64:
			f.SetInt(int64(i + 1))
		case reflect.Float64:
			f.SetFloat(float64(i) + 0.5)
		case reflect.Bool:
			f.SetBool(true)
		default:
			t.Fatalf("config.Replicas.%s is a %s: teach this test to set it", v.Type().Field(i).Name, f.Kind())
		}
	}
	out := reflect.ValueOf(replicaOptions(in))
	for i := range v.NumField() {
		name := v.Type().Field(i).Name
		got := out.FieldByName(name)
		if !got.IsValid() {
			t.Errorf("replicas.Options has no %s, which config.Replicas sets", name)
			continue
		}
		want := v.Field(i)
		if !want.Type().ConvertibleTo(got.Type()) || !reflect.DeepEqual(want.Convert(got.Type()).Interface(), got.Interface()) {
			t.Errorf("replicaOptions: %s is %v, config.Replicas's is %v", name, got, want)
		}
	}
	for i := range out.NumField() {
		if name := out.Type().Field(i).Name; !v.FieldByName(name).IsValid() {
			t.Errorf("replicas.Options.%s is set by no field of config.Replicas", name)
		}
	}
}
