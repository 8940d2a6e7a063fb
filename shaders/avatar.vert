#version 120
// Avatar vertex shader: morph-target blending on the GPU. Each vertex carries its index; the
// per-vertex deltas of all blendshapes live in one float texture (column = vertex, rows
// 0..S-1 = position deltas, rows S..2S-1 = normal deltas) and the S weights in a 1-row float
// texture updated each frame. The blended vertex is posed by u_model (seat * head pose *
// scale, centimetres -> metres) and then by the scene transforms (dollar hooks, see
// render/avatar.py).

const int NUM_SHAPES = 52;

attribute vec3 a_position;        // canonical face frame, centimetres
attribute vec3 a_normal;
attribute vec3 a_color;
attribute float a_index;          // vertex index (column in u_deltas)

uniform sampler2D u_deltas;       // RGB32F, width N vertices, height 2 * NUM_SHAPES
uniform sampler2D u_weights;      // R32F, width NUM_SHAPES, height 1
uniform float u_num_vertices;
uniform mat4 u_model;             // avatar local (cm) -> scene (m), column vectors

varying vec3 v_normal;            // scene frame
varying vec3 v_color;

void main()
{
    vec3 pos = a_position;
    vec3 nrm = a_normal;
    float u = (a_index + 0.5) / u_num_vertices;
    float rows = 2.0 * float(NUM_SHAPES);
    for (int i = 0; i < NUM_SHAPES; i++) {
        float w = texture2D(u_weights, vec2((float(i) + 0.5) / float(NUM_SHAPES), 0.5)).r;
        if (w != 0.0) {
            pos += w * texture2D(u_deltas, vec2(u, (float(i) + 0.5) / rows)).xyz;
            nrm += w * texture2D(u_deltas, vec2(u, (float(i + NUM_SHAPES) + 0.5) / rows)).xyz;
        }
    }
    vec4 world = u_model * vec4(pos, 1.0);
    v_normal = normalize(mat3(u_model) * nrm);
    v_color = a_color;
    gl_Position = $visual_to_render(world);
}
