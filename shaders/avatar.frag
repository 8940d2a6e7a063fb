#version 120
// Avatar fragment shader: two-sided Lambert from a key and a fill light plus ambient, and a
// soft rim so the silhouette reads against a dark room.

varying vec3 v_normal;
varying vec3 v_color;

uniform vec3 u_light_dir;         // towards the key light, scene frame (unit)
uniform vec3 u_view_dir;          // towards the viewer, scene frame (unit, approximate)
uniform float u_opacity;

void main()
{
    vec3 n = normalize(v_normal);
    if (dot(n, u_view_dir) < 0.0) n = -n;      // inside of the mouth, back faces
    float key = max(dot(n, u_light_dir), 0.0);
    float fill = max(dot(n, normalize(vec3(-u_light_dir.x, 0.3, u_light_dir.z))), 0.0);
    float rim = pow(1.0 - max(dot(n, u_view_dir), 0.0), 3.0);
    vec3 rgb = v_color * (0.30 + 0.65 * key + 0.20 * fill) + 0.12 * rim;
    gl_FragColor = vec4(min(rgb, vec3(1.0)), u_opacity);
}
